#!/usr/bin/env bash
# Stops the Workers, then the Master. Nothing running counts as success.
. "$(dirname "$0")/local-daemons.sh"

"${SPARK_HOME}/sbin/stop-workers.sh"
"${SPARK_HOME}/sbin/stop-master.sh"
