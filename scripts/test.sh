#!/usr/bin/env bash
# Runs every test: the .NET test projects (unit, simulator conformance in-process and through
# FUSE, libvirt integration, console, packaging), then the real-kernel check (Debian's 6.12 kernel
# under qemu with the kernel's mtty/mdpy sample drivers) and the side-by-side comparison of the
# FUSE-mounted simulator with the real kernel's transcripts. Installs missing prerequisites first.
# Ends with one line: "N passed, N failed".
#
#   scripts/test.sh              everything (about 5 minutes warm, 10 on a fresh machine)
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
bash scripts/prerequisites.sh || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0

# Adds a stage's "N passed, N failed" (the last such line in $log) to the totals; a stage that
# failed without such a line, or without counting its failure, counts as one failure.
count_stage() {
    local status=$1 counts stage_passed=0 stage_failed=0
    counts=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 | sed -E 's/^[A-Za-z-]+: //')
    if [[ -n $counts ]]; then
        read -r stage_passed _ stage_failed _ <<< "${counts//,/}"
    fi
    passed=$((passed + stage_passed)) failed=$((failed + stage_failed))
    if ((status != 0 && stage_failed == 0)); then failed=$((failed + 1)); fi
}

echo "== .NET tests"
if dotnet restore Planner.sln > "$log" 2>&1 && dotnet build Planner.sln --no-restore -c Release -v quiet -nologo > "$log" 2>&1; then
    dotnet test --solution Planner.sln --no-build -c Release 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    dotnet_passed=$(awk '/^  succeeded: /{s=$2} END{print s+0}' "$log")
    dotnet_failed=$(awk '/^  failed: /{f=$2} END{print f+0}' "$log")
    echo "$dotnet_passed passed, $dotnet_failed failed" >> "$log"
    count_stage "$status"
else
    grep -E ': (error|warning) ' "$log" | sort -u >&2 || cat "$log" >&2
    echo "error: restore or build failed" >&2
    failed=$((failed + 1))
fi

echo "== simulator (FUSE) versus the real kernel's transcripts"
export VFIO_MIGRATOR="$PWD/examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator"
for scenario in examples/scenarios/mtty.json examples/scenarios/mdpy.json examples/scenarios/kernel/mtty-mdpy.json; do
    mount_dir=$(mktemp -d)
    bash scripts/real-kernel/compare-simulator.sh "$scenario" "$mount_dir" > "$log" 2>&1
    status=$?
    tail -n 1 "$log" | sed "s|^|$(basename "$scenario"): |"
    ((status == 0)) || cat "$log"
    count_stage "$status"
    rmdir "$mount_dir" 2>/dev/null
done

if ((kernel)); then
    echo "== real kernel under qemu"
    bash scripts/real-kernel/ci.sh 2>&1 | tee "$log"
    count_stage "${PIPESTATUS[0]}"
fi

if ((two_host)); then
    echo "== two hosts under qemu: real live migrations (scripts/two-host)"
    bash scripts/two-host/run.sh 2>&1 | tee "$log"
    count_stage "${PIPESTATUS[0]}"
fi

echo "$passed passed, $failed failed"
((failed == 0))
