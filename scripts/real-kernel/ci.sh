#!/usr/bin/env bash
# CI entry for the real-kernel check: runs the self-test of sysfs-ops.sh and the whole harness
# for Debian's 6.12 kernel (download, build, boot, compare with tests/RealKernel/expected), then
# prints the harness's timings and one summary line "real-kernel: N passed, N failed" counting
# both. Their own logs are printed only when they fail. Exits non-zero when either fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

passed=0 failed=0
# Runs one counted step ($@), adding the "N passed, N failed" it ends with to the totals; a step
# that fails without such a line counts as one failure.
run_counted() {
    "$@" >"$log" 2>&1
    local status=$? counts step_passed=0 step_failed=0
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if ((status != 0)); then cat "$log" >&2; fi
    if [[ -n $counts ]]; then
        read -r step_passed _ step_failed _ <<< "$counts"
        passed=$((passed + step_passed)) failed=$((failed + step_failed))
    fi
    if ((status != 0)) && [[ -z $counts || $step_failed -eq 0 ]]; then failed=$((failed + 1)); fi
}

started=$(date +%s)
run_counted bash ../../tests/RealKernel/selftest.sh
run_counted bash ./run.sh --kernel 6.12 "$@"
timings=$(sed -n 's/^real-kernel: timings //p' "$log")
echo "real-kernel 6.12 timings: ${timings:-none (the harness stopped early)}; wall $(($(date +%s) - started))s"
echo "real-kernel: $passed passed, $failed failed"
((failed == 0))
