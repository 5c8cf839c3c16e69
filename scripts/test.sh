#!/usr/bin/env bash
# Runs every test: the .NET test projects (unit, simulator conformance in-process and through
# FUSE, libvirt integration, console, packaging), then the real-kernel check (Debian's 6.12 kernel
# under qemu with the kernel's mtty/mdpy sample drivers) and the side-by-side comparison of the
# FUSE-mounted simulator with the real kernel's transcripts. Installs missing prerequisites first.
# Every stage runs within a time limit; a stage that hangs is killed and named as hung. Ends with a
# line per stage, a line naming the stages this run skipped (if any), and one line
# "N passed, N failed, N skipped" over all stages.
#
#   scripts/test.sh              everything (about 10 minutes warm, 15 on a fresh machine)
#   scripts/test.sh --no-kernel  only the .NET tests and the simulator comparison (no qemu)
#   scripts/test.sh --no-two-host  everything but the two-host live migrations (scripts/two-host:
#                                  two qemu L1 hosts; timings in docs/real-migration.md)
set -uo pipefail
cd "$(dirname "$0")/.."
kernel=1 two_host=1
for arg in "$@"; do
    case $arg in
        --no-kernel) kernel=0 ;;
        --no-two-host) two_host=0 ;;
        *) echo "usage: scripts/test.sh [--no-kernel] [--no-two-host]" >&2; exit 2 ;;
    esac
done
bash scripts/prerequisites.sh --tests || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
# The console's planning commands keep a SQLite state store (docs/state.md); tests that run them
# use one of their own instead of the machine's /var/lib/vfio-migration.
VFIO_MIGRATION_STATE_DIR=$(mktemp -d)
export VFIO_MIGRATION_STATE_DIR
trap 'rm -f "$log"; rm -rf "$VFIO_MIGRATION_STATE_DIR"' EXIT
passed=0 failed=0 skipped=0
stage_lines=() skipped_stages=()

# The stage contract. run_stage NAME LIMIT COMMAND... runs COMMAND (stdout and stderr shown and
# kept) under `timeout --kill-after=30s LIMIT`, which kills its whole process group past LIMIT
# (a duration for timeout(1): 90s, 10m). COMMAND ends its output with "N passed, N failed" or
# "N passed, N failed, N skipped" (one "word: " may stand before it); the last such line is the
# stage's count. The stage fails, counting one failure more, when it ran past LIMIT (named as
# hung), when it exited non-zero without counting a failure, or when it counted no test at all.
run_stage() {
    local name=$1 limit=$2 started=$SECONDS status counts stage_passed=0 stage_failed=0 stage_skipped=0 problem=
    shift 2
    echo "== $name (limit $limit)"
    timeout --kill-after=30s "$limit" "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    counts=$(grep -E '^([A-Za-z0-9.-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1 | sed -E 's/^[A-Za-z0-9.-]+: //')
    if [[ -n $counts ]]; then
        read -r stage_passed _ stage_failed _ stage_skipped _ <<< "${counts//,/}"
        stage_skipped=${stage_skipped:-0}
    fi
    if ((status == 124 || status == 137)); then
        problem="HUNG: killed after $limit"
    elif ((status != 0 && stage_failed == 0)); then
        problem="exited with status $status without counting a failure"
    elif ((stage_passed + stage_failed == 0)); then
        problem="ran no tests"
    fi
    if [[ -n $problem ]]; then
        stage_failed=$((stage_failed + 1))
        echo "$name: $problem"
    fi
    passed=$((passed + stage_passed)) failed=$((failed + stage_failed)) skipped=$((skipped + stage_skipped))
    stage_lines+=("$name: $stage_passed passed, $stage_failed failed, $stage_skipped skipped in $((SECONDS - started))s${problem:+ ($problem)}")
}

# skip_stage NAME REASON: a whole stage this run does not run, named in the final lines.
skip_stage() {
    echo "== $1 skipped: $2"
    skipped_stages+=("$1 ($2)")
}

# The .NET stage: restore, build, every test project. Each project is bounded by its own session
# limit (TestSessionTimeout, tests/Directory.Build.props) and each test by tests/testconfig.json,
# so a hang inside it is named by the project (exit code 3) or the test that timed out.
dotnet_tests() {
    local out
    out=$(mktemp)
    if ! { dotnet restore Planner.sln > "$out" 2>&1 && dotnet build Planner.sln --no-restore -c Release -v quiet -nologo > "$out" 2>&1; }; then
        grep -E ': (error|warning) ' "$out" | sort -u || cat "$out"
        echo "error: restore or build failed"
        rm -f "$out"
        return 1
    fi
    dotnet test --solution Planner.sln --no-build -c Release 2>&1 | tee "$out"
    local status=${PIPESTATUS[0]}
    # Exit code 3 is a session that ran past its TestSessionTimeout; "error:" counts such sessions.
    awk '/\.dll \(.*\) failed/{project=$1} /^ *Exit code: 3$/{sub(".*/", "", project); print "HUNG: " project " ran past its session limit"}' "$out" | sort -u
    awk '/^  (succeeded|failed|skipped|error): /{n[$1]=$2} END{printf "%d passed, %d failed, %d skipped\n", n["succeeded:"], n["failed:"] + n["error:"], n["skipped:"]}' "$out"
    rm -f "$out"
    return "$status"
}
export -f dotnet_tests
run_stage dotnet 60m bash -c dotnet_tests

# The FUSE-mounted simulator against the real kernel's transcripts, one stage per scenario.
export VFIO_MIGRATOR="$PWD/examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator"
compare_scenario() {
    local mount_dir status
    mount_dir=$(mktemp -d)
    bash scripts/real-kernel/compare-simulator.sh "$1" "$mount_dir"
    status=$?
    rmdir "$mount_dir" 2>/dev/null
    return "$status"
}
export -f compare_scenario
for scenario in examples/scenarios/mtty.json examples/scenarios/mdpy.json examples/scenarios/kernel/mtty-mdpy.json examples/scenarios/migref.json; do
    run_stage "simulator-vs-kernel $(basename "$scenario")" 5m bash -c 'compare_scenario "$1"' _ "$scenario"
done

if ((kernel)); then
    run_stage real-kernel 45m bash scripts/real-kernel/ci.sh
else
    skip_stage real-kernel "--no-kernel"
fi

if ((two_host)); then
    run_stage two-host 40m bash scripts/two-host/run.sh
else
    skip_stage two-host "--no-two-host"
fi

printf '%s\n' "${stage_lines[@]}"
if ((${#skipped_stages[@]})); then
    echo "skipped stages: ${skipped_stages[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
