#!/usr/bin/env bash
# Stops the local service stack (npm run stack:down), Spark daemons included. Keeps all state under .stack/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$STACK_REPO"

[[ -d "$STACK_DIR" ]] || exit 0
take_stack_lock

if [[ -x "$STACK_DIR/spark/sbin/stop-all.sh" ]]; then
  "$STACK_DIR/spark/sbin/stop-all.sh" >/dev/null 2>&1 || log "stop-all.sh reported a problem, see $STACK_LOGS/spark"
  "$STACK_DIR/spark/sbin/stop-history-server.sh" >/dev/null 2>&1 || true
fi
stop_pid "$STACK_RUN/smtp-sink.pid" 'SMTP sink'
stop_pid "$STACK_RUN/sshd.pid" sshd
stop_pid "$STACK_RUN/moto.pid" moto
stop_pid "$STACK_RUN/temporal.pid" Temporal 30

cluster=$(pg_cluster_dir)
if [[ -n "$cluster" && -f "$cluster/data/postmaster.pid" ]]; then
  log "stopping PostgreSQL"
  as_pg "$PG_BIN/pg_ctl" -D "$cluster/data" -m fast -w -t 60 stop >/dev/null || die "PostgreSQL did not stop"
fi
log "stack is down (state kept in $STACK_DIR)"
