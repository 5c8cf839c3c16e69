#!/usr/bin/env bash
# Runs the console migrator's planner against the real kernel's mtty, inside the guest, in a
# chroot of the host's root (run.sh --planner; guest-init.sh starts it). The destination is this
# guest: a libvirt test-driver host file describing the mtty parent, with the real /sys as its
# sysfs; the source is the simulated host examples/scenarios/kernel/mtty-source.json.
#
# Usage: planner-ops.sh REPO_ROOT GENERATED_HOST_XML
#        planner-ops.sh --migref REPO_ROOT MIGREF_HOST_XML
#   GENERATED_HOST_XML  `vfio-migrator sim libvirt-xml examples/scenarios/mtty.json` of the host
#   --migref            instead, with only the reference driver migref loaded (version=2.1
#                       accepts=2.0,2.1): `vfio-migrator economy` counts the version writes and
#                       questions of write and ask, write and test and an exhaustive search, for the
#                       guests of examples/scenarios/kernel/migref-source.json, with four idle
#                       migref-small on the destination; MIGREF_HOST_XML is
#                       `vfio-migrator sim libvirt-xml examples/scenarios/migref.json` (no node device
#                       for the virtual parent, as real libvirt)
#
# Prints one record per line for run.sh to check (this script judges nothing itself):
#   step NAME exit=N | before=UUIDS | after=UUIDS | wall-ms=N | json=PLAN
# (UUIDS comma-separated, sorted; wall-ms is the whole dotnet process, start-up included).
set -u
part=mtty
if [[ ${1:-} == --migref ]]; then
    part=migref
    shift
fi
repo=${1:?usage: planner-ops.sh [--migref] REPO_ROOT HOST_XML}
generated_host=${2:?usage: planner-ops.sh [--migref] REPO_ROOT HOST_XML}
app=$repo/examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator.dll
source_scenario=$repo/examples/scenarios/kernel/mtty-source.json
dest_host=$repo/examples/scenarios/kernel/mtty-libvirt-host.xml
mtty_types=/sys/class/mdev_bus/mtty/mdev_supported_types
# LIBVIRT_DEBUG=4: errors only (the guest cannot resolve its own host name, which libvirt warns about).
export HOME=/tmp DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 LC_ALL=C LIBVIRT_DEBUG=4

# The mdevs the kernel has, sorted, comma-separated.
listing() {
    local names=(/sys/bus/mdev/devices/*)
    [[ -e ${names[0]} ]] || names=()
    local IFS=,
    echo "${names[*]##*/}"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Runs one plan ($1 the step's name, $2 the guest, then extra options) and prints its records.
plan_step() {
    local name=$1 domain=$2
    shift 2
    migrator_step "$name" plan --source-scenario "$source_scenario" --dest "test://$dest_host" --dest-sysfs /sys \
        --state-dir /tmp/vfio-state --domain "$domain" "$@"
}

# Runs one console command ($1 the step's name, then its arguments) with --json and prints its records.
migrator_step() {
    local name=$1 status started
    shift
    echo "step $name before=$(listing)"
    started=$(now_ms)
    dotnet "$app" "$@" --json > "/tmp/$name.json" 2> "/tmp/$name.err"
    status=$?
    echo "step $name wall-ms=$(($(now_ms) - started))"
    echo "step $name exit=$status"
    echo "step $name after=$(listing)"
    echo "step $name json=$(jq -c . "/tmp/$name.json" 2>/dev/null || echo null)"
    # stderr goes to the guest console: the host prints it when a check fails.
    sed "s/^/$name: /" "/tmp/$name.err" >&2
}

# Creates $1 mtty-2 mdevs through sysfs with fixed UUIDs (the pool's other tenants); prints them.
occupy() {
    local i uuid
    for ((i = 1; i <= $1; i++)); do
        printf -v uuid '0c0c0c0c-0000-4000-8000-%012d' "$i"
        echo "$uuid" > "$mtty_types/mtty-2/create" || echo "occupy: creating $uuid failed" >&2
    done
}

release_occupied() {
    local device
    for device in /sys/bus/mdev/devices/0c0c0c0c-0000-4000-8000-*; do
        [[ -e $device ]] && echo 1 > "$device/remove"
    done
}

# The reference driver: four idle migref-small (the UUIDs of tests/ConsoleMigrator.Tests'
# EconomyCommandTests), then the three strategies for both guests; economy removes what it creates.
if [[ $part == migref ]]; then
    migref_small=/sys/class/mdev_bus/migref/mdev_supported_types/migref-small
    for uuid in 5a000000-0000-4000-8000-00000000000{a,b,c,d}; do
        echo "$uuid" > "$migref_small/create" || echo "economy: creating $uuid failed" >&2
    done
    migrator_step economy economy --source-scenario "$repo/examples/scenarios/kernel/migref-source.json" \
        --dest "test://$generated_host" --dest-sysfs /sys --domain accepted --domain refused
    for device in /sys/bus/mdev/devices/5a000000-0000-4000-8000-00000000000?; do
        [[ -e $device ]] && echo 1 > "$device/remove"
    done
    echo "step migref-final after=$(listing)"
    exit 0
fi

initial=$(listing)
echo "step initial before=$initial"

# (a) No migration_version anywhere: the default policy refuses and creates nothing.
plan_step default-policy serial-1
# (b) The same guest under allow-type-match: 3 mtty-2 created (6 of 24 ports), removed at the end.
plan_step allow-type-match serial-1 --policy allow-type-match
# (c) 10 mtty-2 taken first leave 4 ports: the libvirt host file still says 12 mtty-2, so the
#     planner writes, and the third create meets the driver's ENOSPC.
occupy 10
plan_step exhausted serial-1 --policy allow-type-match
release_occupied
# (d) A guest mixing mtty-1 and mtty-2: the shared pool takes both.
plan_step mixed-types serial-mixed --policy allow-type-match
# (e) The destination file as `sim libvirt-xml` generates it from examples/scenarios/mtty.json.
dest_host=$generated_host
plan_step generated-host serial-1 --policy allow-type-match
echo "step final after=$(listing)"
