#!/usr/bin/env bash
# Quick start: set up .venv (runtime only), then caption the demo sample as it plays with the
# packaged demo model: partials revised and finals settling in the terminal, one line per final.
# Extra arguments go to `parakeet-trt live --demo`. With --ui web the 'live' extra (aiohttp) is
# installed first and the same captions are served at http://127.0.0.1:8765/ until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

web=0
previous=""
for arg in "$@"; do
  { [ "$previous" = --ui ] && [ "$arg" = web ]; } && web=1
  [ "$arg" = --ui=web ] && web=1
  previous=$arg
done
if [ "$web" = 1 ]; then scripts/setup.sh --live; else scripts/setup.sh; fi

status=0
.venv/bin/parakeet-trt live --demo "$@" || status=$?
if [ "$status" = 0 ] && [ "$web" = 0 ]; then
  echo "[quickstart] the same captions in a browser: scripts/quickstart.sh --ui web" >&2
fi
exit "$status"
