#!/usr/bin/env bash
# Stops every Worker this SPARK_HOME started (whatever conf/workers says now).
. "$(dirname "$0")/local-daemons.sh"

for pidfile in "$SPARK_PID_DIR/spark-$SPARK_IDENT_STRING-$WORKER_CLASS-"*.pid; do
  [ -e "$pidfile" ] || continue
  instance=${pidfile##*-}
  stop_daemon "$WORKER_CLASS" "${instance%.pid}"
done
