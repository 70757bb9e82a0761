# Shared by stack/up.sh and stack/down.sh: where the local stack keeps its state and how to
# tell whether one of its processes is running. Sourced, never executed.

STACK_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="$STACK_REPO/.stack"
STACK_RUN="$STACK_DIR/run"
STACK_LOGS="$STACK_DIR/logs"

TEMPORAL_PORT=7233
TEMPORAL_UI_PORT=8233
POSTGRES_PORT=55432
MOTO_PORT=4566
SSH_PORT=2222
SMTP_PORT=2525
SPARK_MASTER_PORT=7077
SPARK_MASTER_WEBUI_PORT=8080
S3_BUCKET=pothole-local
AWS_REGION=ap-northeast-2
PG_BIN=/usr/lib/postgresql/15/bin

# Serialises stack:up/stack:down. Fd 9 holds the lock: every process started while holding it gets 9>&-,
# or the lock would live as long as the daemon.
take_stack_lock() {
  mkdir -p "$STACK_RUN"
  exec 9>"$STACK_RUN/lock"
  flock -w 900 9 || die "another stack:up/stack:down still holds $STACK_RUN/lock"
}

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
  printf '[stack] ERROR: %s\n' "$*" >&2
  exit 1
}

# The directory holding the Python interpreter that has the stack's PyPI packages (temporal, moto, pyspark).
python_bin_dir() { python3 -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # port seconds what
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    port_open "$1" && return 0
    sleep 0.2
  done
  return 1
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Names the process listening on a port (pid and working directory) so a clash with another checkout is explicit.
port_owner() {
  local pid
  pid=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  if [[ -n "$pid" ]]; then
    echo "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120); cwd $(readlink "/proc/$pid/cwd" 2>/dev/null))"
  else
    echo "an unknown process"
  fi
}

# Refuses to start a service whose port is already taken by something this checkout did not start.
ensure_port_free() { # port service
  if port_open "$1"; then
    die "port $1 ($2) is already in use by $(port_owner "$1"). Another stack (another checkout?) is running: stop it with 'npm run stack:down' in that checkout first."
  fi
}

stop_pid() { # pidfile name [seconds]
  local pidfile=$1 name=$2 wait=${3:-20} pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in ${wait}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# PostgreSQL refuses to run as root: as root it runs as the 'postgres' OS user.
pg_os_user() { if [[ $EUID == 0 ]]; then echo postgres; else id -un; fi; }
as_pg() { if [[ $EUID == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The cluster lives under .stack/postgres unless the postgres user cannot reach that path (a checkout under
# /root, say): then under /var/tmp, keyed by the checkout path, with .stack/postgres/cluster pointing at it.
pg_cluster_dir() {
  local link="$STACK_DIR/postgres/cluster"
  if [[ -L "$link" ]]; then
    readlink "$link"
  elif [[ -d "$link" ]]; then
    echo "$link"
  else
    echo ""
  fi
}
