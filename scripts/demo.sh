#!/usr/bin/env bash
# npm run demo [-- DATE]: bring the local stack up, then run the whole pipeline for DATE on it.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d node_modules ]] || npm ci
npm run --silent stack:up
exec node --import tsx scripts/demo.ts "$@"
