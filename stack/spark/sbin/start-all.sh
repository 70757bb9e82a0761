#!/usr/bin/env bash
# Starts the Master and the Workers of conf/workers, then waits until every Worker has registered
# (at most SPARK_START_TIMEOUT seconds, default 120). Idempotent.
. "$(dirname "$0")/local-daemons.sh"

"${SPARK_HOME}/sbin/start-master.sh" || exit 1
"${SPARK_HOME}/sbin/start-workers.sh" || exit 1

expected=$(worker_hosts | wc -l)
deadline=$((SECONDS + ${SPARK_START_TIMEOUT:-120}))
while :; do
  alive=$(alive_workers)
  if [ "$alive" -ge "$expected" ]; then
    echo "Spark master spark://$SPARK_MASTER_HOST:$SPARK_MASTER_PORT has $alive alive worker(s)"
    exit 0
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "only $alive of $expected workers registered with the master; logs in $SPARK_LOG_DIR" >&2
    exit 1
  fi
  sleep 1
done
