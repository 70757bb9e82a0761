#!/usr/bin/env bash
# The whole suite: static checks, the local service stack, then every test file under test/ (or the given paths).
# Usage: scripts/test.sh [--no-stack] [paths...]
set -euo pipefail
cd "$(dirname "$0")/.."

with_stack=1
if [[ "${1:-}" == "--no-stack" ]]; then with_stack=0; shift; fi
paths=("${@:-test}")

npm run --silent typecheck
npm run --silent lint
if [[ $with_stack == 1 ]]; then npm run --silent stack:up; fi

mapfile -t files < <(find "${paths[@]}" -name '*.test.ts' | sort)
if [[ ${#files[@]} == 0 ]]; then echo "no test files under ${paths[*]}" >&2; exit 1; fi

# Tests share one stack (one Spark cluster, one set of EC2 instances): run files one at a time.
# --test-force-exit: once every file has reported, the runner exits even if a process left behind by a killed
# test file still holds one of its pipes open (without it the runner would wait for that process forever).
exec node --import tsx --test --test-concurrency=1 --test-force-exit --test-reporter=spec --test-timeout=900000 \
  "${files[@]}"
