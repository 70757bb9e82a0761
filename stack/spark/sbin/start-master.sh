#!/usr/bin/env bash
# Starts the standalone Master (SPARK_MASTER_HOST:SPARK_MASTER_PORT, web UI SPARK_MASTER_WEBUI_PORT).
# Already running counts as success.
. "$(dirname "$0")/local-daemons.sh"

if daemon_running "$MASTER_CLASS" 1; then
  echo "Master already running on spark://$SPARK_MASTER_HOST:$SPARK_MASTER_PORT"
  exit 0
fi
"${SPARK_HOME}/sbin/spark-daemon.sh" start "$MASTER_CLASS" 1 \
  --host "$SPARK_MASTER_HOST" --port "$SPARK_MASTER_PORT" --webui-port "$SPARK_MASTER_WEBUI_PORT" "$@"
daemon_running "$MASTER_CLASS" 1 || { echo "Master failed to start, see $SPARK_LOG_DIR" >&2; exit 1; }
