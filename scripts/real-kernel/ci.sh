#!/usr/bin/env bash
# CI entry for the real-kernel check: runs the whole harness for Debian's 6.12 kernel (download,
# build, boot, compare with tests/RealKernel/expected) and prints its timings and a summary line
# "real-kernel: N passed, N failed". The harness's own log goes to a file that is printed only
# when the run fails. Exits with the harness's status.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

started=$(date +%s)
bash ./run.sh --kernel 6.12 "$@" >"$log" 2>&1
status=$?
if ((status != 0)); then cat "$log" >&2; fi

timings=$(sed -n 's/^real-kernel: timings //p' "$log")
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
[[ -n $counts ]] || counts="0 passed, 1 failed"
echo "real-kernel 6.12 timings: ${timings:-none (the harness stopped early)}; wall $(($(date +%s) - started))s"
echo "real-kernel: $counts"
exit "$status"
