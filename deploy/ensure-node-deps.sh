#!/usr/bin/env bash
# Installs the locked Node dependencies when they are missing or older than
# package-lock.json. Used by `npm start` and `npm test` on a fresh clone.
# `npm install` rather than `npm ci`: chdb lists its engine for every platform
# as optional dependencies, and where the registry serves only this
# platform's, npm cannot record the others in the lock file, which `npm ci`
# then refuses as "out of sync". With a lock file present, `npm install`
# installs the locked versions all the same.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  printf '[setup] installing Node dependencies (npm install, as locked)\n' >&2
  npm install --no-audit --no-fund --loglevel=error
fi
