#!/usr/bin/env bash
# Stops the standalone Master.
. "$(dirname "$0")/local-daemons.sh"

stop_daemon "$MASTER_CLASS" 1
