#!/usr/bin/env bash
# Runs sysfs-ops.sh against the host simulator mounted with FUSE and compares its transcript with
# the one the real kernel produced (tests/RealKernel/expected/<scenario>-<series>.txt).
#
# Usage: scripts/real-kernel/compare-simulator.sh [--kernel 6.12|6.1] SCENARIO DIR
#   SCENARIO  a scenario file, e.g. examples/scenarios/mtty.json (its base name picks the reference)
#   DIR       an empty directory to mount the simulator on (created when missing)
#
# Mounts with "vfio-migrator sim mount SCENARIO DIR"; set VFIO_MIGRATOR to another command line
# for the tool (e.g. "dotnet run --project examples/ConsoleMigrator --"). Works whether the
# mount command stays in the foreground or returns once mounted. Always unmounts. Ends with
# "N passed, N failed"; exits non-zero on a difference or any failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

series=6.12
mount_timeout=60
ops_timeout=120
while (($#)); do
    case $1 in
        --kernel) series=${2:?--kernel needs 6.12 or 6.1}; shift 2 ;;
        -h | --help) print_usage "$0"; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) break ;;
    esac
done
(($# == 2)) || die "usage: compare-simulator.sh [--kernel 6.12|6.1] SCENARIO DIR"
scenario=$1 mount_dir=$2
kernel_meta_package "$series" >/dev/null
[[ -f $scenario ]] || die "scenario file '$scenario' does not exist"
scenario_name=$(basename "$scenario" .json)
reference=$EXPECTED_DIR/$scenario_name-$series.txt
[[ -f $reference ]] || die "no real-kernel reference for scenario '$scenario_name' and kernel $series ($reference); the references are: $(cd "$EXPECTED_DIR" && echo *.txt)"
mkdir -p "$mount_dir"
mount_dir=$(cd "$mount_dir" && pwd)
mountpoint -q "$mount_dir" && die "$mount_dir is already a mount point; give an unused directory"
[[ -z $(ls -A "$mount_dir") ]] || die "$mount_dir is not empty"
ensure_debian_packages busybox-static fuse3

read -ra migrator <<< "${VFIO_MIGRATOR:-vfio-migrator}"
command -v "${migrator[0]}" >/dev/null || die "'${migrator[0]}' not found: put vfio-migrator on PATH or set VFIO_MIGRATOR"

tmp=$(mktemp -d)
mount_pid=
cleanup() {
    if mountpoint -q "$mount_dir"; then
        fusermount3 -u "$mount_dir" 2>/dev/null || umount -l "$mount_dir" || log "could not unmount $mount_dir"
    fi
    if [[ -n $mount_pid ]] && kill -0 "$mount_pid" 2>/dev/null; then
        kill "$mount_pid" 2>/dev/null || true
        wait "$mount_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"${migrator[@]}" sim mount "$scenario" "$mount_dir" </dev/null >"$tmp/mount.log" 2>&1 &
mount_pid=$!
waited=0
until mountpoint -q "$mount_dir"; do
    if ! kill -0 "$mount_pid" 2>/dev/null && ! wait "$mount_pid"; then
        cat "$tmp/mount.log" >&2
        die "'${migrator[*]} sim mount' failed before mounting (its output is above)"
    fi
    ((waited < mount_timeout * 10)) || { cat "$tmp/mount.log" >&2; die "$mount_dir was not mounted within ${mount_timeout} s"; }
    sleep 0.1
    waited=$((waited + 1))
done

actual=$tmp/$scenario_name-$series.txt
status=0
timeout --kill-after=5 "$ops_timeout" busybox sh "$REAL_KERNEL_DIR/sysfs-ops.sh" "$mount_dir" >"$actual" || status=$?
((status == 0)) || log "sysfs-ops.sh ended with status $status on the simulator"
if ((status == 0)) && compare_transcript "$actual" "$reference"; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
    exit 1
fi
