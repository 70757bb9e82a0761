#!/usr/bin/env bash
# Starts one Worker per line of conf/workers, numbered like SPARK_WORKER_INSTANCES so several share a host
# (web UI ports SPARK_WORKER_WEBUI_PORT, +1, ...). Each offers SPARK_WORKER_CORES cores and SPARK_WORKER_MEMORY.
# The Workers start in parallel, as Spark's own start-workers.sh starts them (one ssh per host): spark-daemon.sh
# spends over 2 s on each daemon it starts.
. "$(dirname "$0")/local-daemons.sh"

master_url="spark://$SPARK_MASTER_HOST:$SPARK_MASTER_PORT"
instance=0
failed=0
starting=()
for host in $(worker_hosts); do
  instance=$((instance + 1))
  if ! is_local_host "$host"; then
    echo "conf/workers lists $host: this SPARK_HOME runs its workers on this host only" >&2
    failed=1
    continue
  fi
  daemon_running "$WORKER_CLASS" "$instance" && continue
  (
    "${SPARK_HOME}/sbin/spark-daemon.sh" start "$WORKER_CLASS" "$instance" \
      --host "$host" --webui-port $((SPARK_WORKER_WEBUI_PORT + instance - 1)) \
      --cores "${SPARK_WORKER_CORES:-1}" --memory "${SPARK_WORKER_MEMORY:-1g}" \
      ${SPARK_WORKER_DIR:+--work-dir "$SPARK_WORKER_DIR"} "$master_url"
    daemon_running "$WORKER_CLASS" "$instance" || { echo "Worker $instance failed to start" >&2; exit 1; }
  ) &
  starting+=($!)
done
for pid in "${starting[@]}"; do wait "$pid" || failed=1; done
exit $failed
