#!/bin/sh
# Real VFIO migrations between mdevs of the reference driver migref on one kernel, each next to
# the verdict of the sysfs attribute that predicts it: the load side of the migration stream must
# accept exactly what <mdev>/migration_version accepts. Runs in the real-kernel guest with migref
# loaded as version 2.1 accepting 2.0 and 2.1 (run.sh), through the static helper
# /migref-migrate (tests/RealKernel/migref-migrate.c), which rewrites the saved header's driver
# version to stand in for a source running another driver version.
#
# Usage: sh migref-migrations.sh SYSFS_ROOT MIGRATE_HELPER
# Prints one line per migration:
#   migrate <src type> <version> -> <dst type>: sysfs <ok|fail ERRNO> stream <ok ...|fail ...> <agree|DISAGREE>
set -u
root=$1 helper=$2
types=$root/class/mdev_bus/migref/mdev_supported_types
devices=$root/bus/mdev/devices
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT

errno_of() {
    case $(cat "$scratch/err") in
        *"Invalid argument"*) errno=EINVAL ;;
        *"No such file or directory"* | *"nonexistent directory"*) errno=ENOENT ;;
        *"Permission denied"*) errno=EACCES ;;
        *) errno="E?($(cat "$scratch/err"))" ;;
    esac
}

create() {
    echo "$2" > "$types/migref-$1/create" || exit 1
}

# $1 source uuid, $2 its type, $3 destination uuid, $4 its type, $5 the version the source runs.
row() {
    # The planner reads the source's version first: a source without one cannot migrate.
    if [ -e "$devices/$1/migration_version" ] && [ -e "$devices/$3/migration_version" ]; then
        # shellcheck disable=SC3037  # busybox sh and bash have echo -n
        if { echo -n "migref-$2:$5" > "$devices/$3/migration_version"; } 2> "$scratch/err"; then
            sysfs=ok
        else
            errno_of
            sysfs="fail $errno"
        fi
    else
        sysfs="fail ENOENT"
    fi
    stream=$("$helper" "$1" "$3" "$5" 2>&1)
    stream=${stream#=> }
    case "$sysfs|$stream" in
        ok\|ok*) verdict=agree ;;
        fail*\|fail*) verdict=agree ;;
        *) verdict=DISAGREE ;;
    esac
    echo "migrate $2 $5 -> $4: sysfs $sysfs stream $stream $verdict"
}

s1=5a000000-0000-4000-8000-000000000001
s2=5a000000-0000-4000-8000-000000000002
l1=1a000000-0000-4000-8000-000000000001
l2=1a000000-0000-4000-8000-000000000002
n1=0a000000-0000-4000-8000-000000000001
remove_all() {
    for uuid in "$@"; do echo 1 > "$devices/$uuid/remove" || exit 1; done
}

echo "# migref 2.1 (accepts 2.0, 2.1): two small, one large, one nomig (8 of 8 units)"
create small "$s1"
create small "$s2"
create large "$l1"
create nomig "$n1"
row "$s1" small "$s2" small 2.1
row "$s1" small "$s2" small 2.0
row "$s1" small "$s2" small 2.2
row "$s1" small "$s2" small 3.0
row "$s1" small "$s2" small 1.9
row "$s1" small "$l1" large 2.1
row "$l1" large "$s1" small 2.0
row "$n1" nomig "$s2" small 2.1
remove_all "$s1" "$s2" "$l1" "$n1"
echo "# two large (8 of 8 units)"
create large "$l1"
create large "$l2"
row "$l1" large "$l2" large 2.1
row "$l1" large "$l2" large 2.0
row "$l1" large "$l2" large 3.0
remove_all "$l1" "$l2"
ls "$devices"
