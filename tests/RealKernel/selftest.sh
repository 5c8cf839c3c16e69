#!/usr/bin/env bash
# Checks scripts/real-kernel/sysfs-ops.sh itself, without booting anything: on a plain directory
# shaped like the mdev sysfs tree, busybox sh (with its applets) and bash (with coreutils) must
# print the same transcript although their error messages differ, every error must map to an
# errno name, and dash (whose echo hides the errno) must be refused. Ends with "N passed, N failed".
set -uo pipefail
ops=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/real-kernel" && pwd)/sysfs-ops.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0
# Runs one check: $1 names it, the rest is the command that must succeed.
check() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "PASS $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# A fresh tree per run: the operations create files in it.
make_tree() {
    local types=$1/class/mdev_bus/fake/mdev_supported_types type
    for type in fake-1 fake-2; do
        mkdir -p "$types/$type/devices"
        echo "Fake $type" > "$types/$type/name"
        echo vfio-pci > "$types/$type/device_api"
        echo 2 > "$types/$type/available_instances"
    done
    echo "only the second type has one" > "$types/fake-2/description"
    mkdir -p "$1/bus/mdev/devices"
}

no_unmapped_errors() { ! grep -n "E?(" "$@"; }
refused_by_dash() {
    command -v dash >/dev/null || { echo "dash is not installed (Debian's dash package), so this cannot be checked"; return 1; }
    make_tree "$scratch/dash"
    dash "$ops" "$scratch/dash" > "$scratch/dash.txt" 2>&1
    (($? == 2)) && grep -q "hides the errno" "$scratch/dash.txt"
}
refuses_a_tree_without_class() { ! busybox sh "$ops" "$scratch" >/dev/null 2>&1; }

make_tree "$scratch/busybox" && busybox sh "$ops" "$scratch/busybox" > "$scratch/busybox.txt" 2>&1
make_tree "$scratch/bash" && bash "$ops" "$scratch/bash" > "$scratch/bash.txt" 2>&1
device=bus/mdev/devices/abcdef01-1111-4111-8111-111111111111

check "busybox sh and bash print the same transcript" diff -u "$scratch/busybox.txt" "$scratch/bash.txt"
check "every error maps to an errno name" no_unmapped_errors "$scratch/busybox.txt" "$scratch/bash.txt"
check "a missing attribute reads as ENOENT" \
    grep -q "^read class/mdev_bus/fake/mdev_supported_types/fake-1/description => fail ENOENT$" "$scratch/busybox.txt"
check "a missing link reads as ENOENT" grep -q "^readlink $device/mdev_type => fail ENOENT$" "$scratch/busybox.txt"
check "a write below a missing device is ENOENT" grep -q "^write $device/remove .* => fail ENOENT$" "$scratch/busybox.txt"
check "dash is refused with status 2" refused_by_dash
check "a directory without class/ is refused" refuses_a_tree_without_class
echo "$passed passed, $failed failed"
((failed == 0))
