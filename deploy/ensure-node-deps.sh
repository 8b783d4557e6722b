#!/usr/bin/env bash
# Installs the locked Node dependencies when they are missing or older than
# package-lock.json. Used by `npm start` and `npm test` on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  printf '[setup] installing Node dependencies (npm ci)\n' >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
