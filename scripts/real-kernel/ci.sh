#!/usr/bin/env bash
# CI entry for the real-kernel check: runs the self-test of sysfs-ops.sh, the transcript harness
# for Debian's 6.12 kernel (download, build, boot, compare with tests/RealKernel/expected), then
# builds the console migrator and runs the planner against the same kernel (run.sh --planner),
# then prints each boot's timings and one summary line "real-kernel: N passed, N failed" counting
# all. Their own logs are printed only when they fail.
# Every boot is bounded by run.sh's timeout. Exits non-zero when any step fails.
# Arguments are passed to both run.sh invocations (e.g. --work-dir DIR).
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

# The timings line of the last step's log.
timings() {
    local line
    line=$(sed -n 's/^real-kernel: timings //p' "$log")
    echo "${line:-none (the harness stopped early)}"
}

started=$(date +%s)
run_counted bash ../../tests/RealKernel/selftest.sh
run_counted bash ./run.sh --kernel 6.12 "$@"
echo "real-kernel 6.12 timings: $(timings)"
planner_started=$(date +%s)
if dotnet build ../../examples/ConsoleMigrator -c Release -v quiet -nologo >"$log" 2>&1; then
    run_counted bash ./run.sh --kernel 6.12 --planner "$@"
    echo "real-kernel 6.12 planner timings: $(timings); with the build ${planner_started:+$(($(date +%s) - planner_started))s}"
else
    cat "$log" >&2
    echo "real-kernel: building examples/ConsoleMigrator failed; the planner run was skipped" >&2
    failed=$((failed + 1))
fi
echo "real-kernel: wall $(($(date +%s) - started))s"
echo "real-kernel: $passed passed, $failed failed"
((failed == 0))
