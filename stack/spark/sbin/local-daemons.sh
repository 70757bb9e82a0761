# Sourced by this SPARK_HOME's start/stop scripts: the pyspark wheel ships spark-daemon.sh but not the
# standalone cluster scripts, so these start the Master and Workers on this host through spark-daemon.sh.

if [ -z "${SPARK_HOME}" ]; then
  SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"
  export SPARK_HOME
fi
if [ ! -x "${SPARK_HOME}/bin/spark-class" ]; then
  echo "SPARK_HOME=${SPARK_HOME} is not a Spark installation (run the scripts from \$SPARK_HOME/sbin)" >&2
  exit 1
fi
. "${SPARK_HOME}/sbin/spark-config.sh"
. "${SPARK_HOME}/bin/load-spark-env.sh"

MASTER_CLASS=org.apache.spark.deploy.master.Master
WORKER_CLASS=org.apache.spark.deploy.worker.Worker
SPARK_MASTER_HOST="${SPARK_MASTER_HOST:-127.0.0.1}"
SPARK_MASTER_PORT="${SPARK_MASTER_PORT:-7077}"
SPARK_MASTER_WEBUI_PORT="${SPARK_MASTER_WEBUI_PORT:-8080}"
SPARK_WORKER_WEBUI_PORT="${SPARK_WORKER_WEBUI_PORT:-8081}"
SPARK_IDENT_STRING="${SPARK_IDENT_STRING:-$(id -nu)}"
SPARK_PID_DIR="${SPARK_PID_DIR:-/tmp}"
export SPARK_IDENT_STRING SPARK_PID_DIR

daemon_pidfile() { echo "$SPARK_PID_DIR/spark-$SPARK_IDENT_STRING-$1-$2.pid"; }

# A process that has not exited, zombies aside: an exited daemon has freed its ports, and some init processes
# (this stack's among them) reap orphans a second or two late.
process_live() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null)
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

daemon_running() { # class instance
  local pidfile pid
  pidfile=$(daemon_pidfile "$1" "$2")
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  process_live "$pid" && [[ $(ps -p "$pid" -o comm= 2>/dev/null) =~ java ]]
}

# spark-daemon.sh stop only signals; wait so the ports are free when this returns.
stop_daemon() { # class instance
  local pidfile pid i
  pidfile=$(daemon_pidfile "$1" "$2")
  daemon_running "$1" "$2" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  "${SPARK_HOME}/sbin/spark-daemon.sh" stop "$1" "$2"
  for ((i = 0; i < 300; i++)); do
    process_live "$pid" || return 0
    sleep 0.1
  done
  echo "$1 $2 (pid $pid) did not stop in 30s, killing it"
  kill -9 "$pid" 2>/dev/null || true
}

# Hosts listed in conf/workers, one per line, comments and blank lines ignored.
worker_hosts() {
  local file="${SPARK_CONF_DIR}/workers"
  if [ -f "$file" ]; then
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$file" | grep -v '^$' || true
  else
    echo 127.0.0.1
  fi
}

is_local_host() {
  case "$1" in
    localhost | 127.* | "$(hostname)" | "$(hostname -f 2>/dev/null)") return 0 ;;
    *) hostname -I 2>/dev/null | tr ' ' '\n' | grep -qx "$1" ;;
  esac
}

# JSON of the master's web UI: the cluster state a scheduler would look at.
master_json() {
  python3 - "http://${SPARK_MASTER_HOST}:${SPARK_MASTER_WEBUI_PORT}/json/" <<'PY'
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())
PY
}

alive_workers() {
  master_json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin).get("aliveworkers", 0))' 2>/dev/null ||
    echo 0
}
