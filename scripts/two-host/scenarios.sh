#!/usr/bin/env bash
# Runs the two-host scenarios (tests/TwoHost.Tests) against the hosts run.sh booted (the
# TWO_HOST_* variables it exports). Arguments go to the test runner, e.g.
#   scripts/two-host/run.sh -- bash scripts/two-host/scenarios.sh --filter "FullyQualifiedName~Killing"
# Ends with "N passed, N failed"; with the hosts up a skipped scenario counts as failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
[[ -n ${TWO_HOST_KEY:-} ]] || { echo "two-host: the hosts are not up: run this through scripts/two-host/run.sh" >&2; echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! dotnet build tests/TwoHost.Tests -c Release -v quiet -nologo >"$log" 2>&1; then
    cat "$log" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
dotnet test --project tests/TwoHost.Tests --no-build -c Release -- --output detailed "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
count() { awk -v key="$1" '$1 == key ":" { n = $2 } END { print n + 0 }' "$log"; }
passed=$(count succeeded) failed=$(count failed) skipped=$(count skipped)
((passed + failed + skipped > 0)) || failed=1
echo "$passed passed, $((failed + skipped)) failed"
((status == 0 && failed + skipped == 0))
