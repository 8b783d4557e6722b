#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need on a fresh
# machine, type-checks, runs the unit tests and the integration tests (which
# start a real Kafka broker and a real ClickHouse HTTP endpoint once, through
# test/setup/global-setup.ts), and ends with one "N passed, N failed" line.
# Extra arguments go to vitest, e.g. `npm test -- test/emitter`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test] %s\n' "$*" >&2; }

# 1. Tools the integration tests need: Java and Maven (the Kafka broker), a C
#    compiler (the ClickHouse HTTP launcher), Go (Veneur's own code, for the
#    compatibility tests), Chromium (screenshots of the HTML SLO report).
#    Installed from Debian's packages when missing and we may; otherwise we
#    say what is missing and stop.
missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing prerequisites: ${missing[*]} (Debian package names). Install them, e.g. sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  say "Node.js >= 20 is needed (found $(node --version))"
  exit 1
fi

# 2. Node dependencies, exactly as locked.
bash deploy/ensure-node-deps.sh

# 3. Generated code and types.
say "type-checking"
npm run --silent lint

# 4. Tests. The JSON reports give the closing summary line.
#    The unit and integration tests (one Kafka broker, one ClickHouse). The
#    local cluster's fault tests (3 brokers, 4 ClickHouse nodes, 2 gateways,
#    2 materializers: test/cluster/) run alone after them with
#    (SSF_TEST_CLUSTER=both, the default), or alone with SSF_TEST_CLUSTER=1
#    (`npm run test:cluster`); SSF_TEST_CLUSTER=0 leaves them out.
mkdir -p .cache
status=0
reports=()
run_project() {
  local name=$1
  shift
  local report=".cache/test-report-$name.json"
  rm -f "$report"
  npx vitest run "$@" --passWithNoTests --reporter=default --reporter=json --outputFile.json="$report" || status=$?
  if [ -f "$report" ]; then reports+=("$report"); fi
}
cluster=${SSF_TEST_CLUSTER:-both}
if [ "$cluster" != 1 ]; then run_project main --project unit --project integration "$@"; fi
if [ "$cluster" = 1 ] || [ "$cluster" = both ]; then run_project cluster --project cluster "$@"; fi
if [ ${#reports[@]} -gt 0 ]; then
  node -e '
    let passed = 0, failed = 0, skipped = 0, broken = 0;
    for (const file of process.argv.slice(1)) {
      const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
      skipped += (r.numPendingTests || 0) + (r.numTodoTests || 0);
      // Files that failed with no failing test: their setup failed.
      broken += r.testResults.filter((t) => t.status === "failed" && !t.assertionResults.some((a) => a.status === "failed")).length;
    }
    // A file whose setup failed fails no test (they are skipped): say so.
    console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : "") + (broken ? `, ${broken} test files failed outside their tests` : ""));
  ' "${reports[@]}"
fi
exit "$status"
