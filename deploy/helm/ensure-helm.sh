#!/usr/bin/env bash
# Builds helm (v4, pinned) from the Go module proxy once per machine, into the
# user's cache (a pinned tool, shared by every clone: CI's fresh clones too);
# later runs only print its path. Used by the chart's static test
# (test/deploy/deploy-static.test.ts) and by hand: `bash deploy/helm/ensure-helm.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v4.3.2
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/ssf-pipeline/helm/$version"
if [ ! -x "$bin_dir/helm" ]; then
  command -v go >/dev/null 2>&1 || { echo "Go is needed to build helm (Debian: apt-get install golang-go)" >&2; exit 1; }
  mkdir -p "$bin_dir"
  printf '[helm] building helm %s with go install (first time only; a few minutes)\n' "$version" >&2
  GOBIN="$bin_dir" GOFLAGS="-mod=mod -modcacherw" go install "helm.sh/helm/v4/cmd/helm@$version"
fi
echo "$bin_dir/helm"
