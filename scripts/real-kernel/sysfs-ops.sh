#!/bin/sh
# One fixed sequence of operations on the mdev sysfs ABI, printed as a normalised transcript so
# that the real kernel (in a qemu guest) and the host simulator (mounted with FUSE) can be
# compared line by line.
#
# Usage: busybox sh sysfs-ops.sh SYSFS_ROOT
#   SYSFS_ROOT  /sys in the guest; the simulator's mount point on the host.
#
# Only busybox/coreutils-level commands are used (ls, cat, echo, readlink, test, sort). Every
# step prints one line: "<op> <path relative to the root> [<value>] => <status> [<ERRNO>|<data>]".
# Error messages differ between busybox, coreutils and shells, so only the errno NAME is kept.
# Every mdev parent found under class/mdev_bus is exercised; its devices are all removed at the end.
#
# The shell must report the errno of a failed write: busybox sh and bash do, dash does not
# (its echo says "I/O error" for every failure), so dash is refused below.

set -u
LC_ALL=C
export LC_ALL

if [ "$#" -ne 1 ] || [ ! -d "$1/class" ]; then
    echo "usage: sysfs-ops.sh SYSFS_ROOT (a directory holding class/mdev_bus)" >&2
    exit 2
fi
root=$1

case $( (echo probe > /dev/full) 2>&1 ) in
    *"No space left on device"*) ;;
    *) echo "sysfs-ops.sh: this shell hides the errno of failed writes; run it with 'busybox sh' or bash" >&2
       exit 2 ;;
esac

# Maps the strerror text inside a message from busybox, coreutils or a shell to its errno name.
errno_name() {
    case $1 in
        *"Invalid argument"*) echo EINVAL ;;
        *"No space left on device"*) echo ENOSPC ;;
        *"Too many users"*) echo EUSERS ;;
        *"File exists"*) echo EEXIST ;;
        *"Permission denied"*) echo EACCES ;;
        # busybox sh words ENOENT on a redirection as "nonexistent directory".
        *"No such file or directory"* | *"nonexistent directory"*) echo ENOENT ;;
        *"Operation not permitted"*) echo EPERM ;;
        *"No such device"*) echo ENODEV ;;
        *"Resource temporarily unavailable"*) echo EAGAIN ;;
        *"Device or resource busy"*) echo EBUSY ;;
        *"Input/output error"* | *"I/O error"*) echo EIO ;;
        *"Is a directory"*) echo EISDIR ;;
        *"Not a directory"*) echo ENOTDIR ;;
        *"Function not implemented"*) echo ENOSYS ;;
        *"Operation not supported"* | *"Not supported"*) echo EOPNOTSUPP ;;
        *"Read-only file system"*) echo EROFS ;;
        *"Cannot allocate memory"*) echo ENOMEM ;;
        *"Bad address"*) echo EFAULT ;;
        *) printf 'E?(%s)\n' "$(echo "$1" | tr '\n' ' ')" ;;
    esac
}

# Prints "<op> <relpath> [<shown value>] => ok [<data>]" or "... => fail <ERRNO>".
# $1 op, $2 relpath, $3 shown value ("" for none), $4 exit status, $5 captured output.
report() {
    if [ -n "$3" ]; then shown=" $3"; else shown=""; fi
    if [ "$4" -eq 0 ]; then
        if [ -n "$5" ]; then
            printf '%s %s%s => ok %s\n' "$1" "$2" "$shown" "$(echo "$5" | tr '\n' '|' | sed 's/|$//')"
        else
            printf '%s %s%s => ok\n' "$1" "$2" "$shown"
        fi
    else
        printf '%s %s%s => fail %s\n' "$1" "$2" "$shown" "$(errno_name "$5")"
    fi
}

# Directory listing, sorted bytewise, hidden entries included.
list() {
    out=$(ls -1A "$root/$1" 2>&1) && out=$(echo "$out" | sort | tr '\n' ' ' | sed 's/ $//')
    report list "$1" "" "$?" "$out"
}

read_attr() {
    out=$(cat "$root/$1" 2>&1)
    report read "$1" "" "$?" "$out"
}

# Writes $2 with a trailing newline (echo) or, with $3 = -n, without one.
write_attr() {
    if [ "${3:-}" = -n ]; then
        err=$( (echo -n "$2" > "$root/$1") 2>&1 )
        report write "$1" "'$2'" "$?" "$err"
    else
        err=$( (echo "$2" > "$root/$1") 2>&1 )
        report write "$1" "'$2\\n'" "$?" "$err"
    fi
}

# The name of the entry a symlink points to (its full target differs between kernel and simulator).
link_name() {
    out=$(readlink "$root/$1" 2>&1) && out=${out##*/}
    report readlink "$1" "" "$?" "$out"
}

exists() {
    if test -e "$root/$1"; then echo "exists $1 => yes"; else echo "exists $1 => no"; fi
}

parents=$(ls -1 "$root/class/mdev_bus" 2>/dev/null | sort)
types_of() { ls -1 "$root/class/mdev_bus/$1/mdev_supported_types" 2>/dev/null | sort; }

echo "# listings and type attributes"
list class/mdev_bus
for parent in $parents; do
    exists "class/mdev_bus/$parent/mdev_supported_types"
    list "class/mdev_bus/$parent/mdev_supported_types"
    for type in $(types_of "$parent"); do
        dir=class/mdev_bus/$parent/mdev_supported_types/$type
        list "$dir"
        for attr in name description device_api available_instances; do read_attr "$dir/$attr"; done
        list "$dir/devices"
    done
done
list bus/mdev/devices

# Every parent's type attributes that change as devices come and go.
show_instances() {
    for parent in $parents; do
        for type in $(types_of "$parent"); do
            read_attr "class/mdev_bus/$parent/mdev_supported_types/$type/available_instances"
        done
    done
}

first_parent=$(echo "$parents" | sed -n 1p)
other_parent=$(echo "$parents" | sed -n 2p)
first_type=$(types_of "$first_parent" | sed -n 1p)
second_type=$(types_of "$first_parent" | sed -n 2p)
if [ -z "$first_type" ]; then
    echo "sysfs-ops.sh: no mdev parent with a supported type under $root/class/mdev_bus" >&2
    exit 1
fi
types_dir=class/mdev_bus/$first_parent/mdev_supported_types
create=$types_dir/$first_type/create

u1=abcdef01-1111-4111-8111-111111111111
u2=2222AAAA-2222-4222-8222-BBBBBBBBBBBB
u2_lower=2222aaaa-2222-4222-8222-bbbbbbbbbbbb
u3=33333333-3333-4333-8333-333333333333
u4=44444444-4444-4444-8444-444444444444

echo "# create"
write_attr "$create" "$u1" -n
exists "bus/mdev/devices/$u1"
link_name "bus/mdev/devices/$u1/mdev_type"
exists "bus/mdev/devices/$u1/remove"
list "$types_dir/$first_type/devices"
show_instances
write_attr "$create" "$u2" -n
list bus/mdev/devices
exists "bus/mdev/devices/$u2_lower"
write_attr "$create" "$u3"
write_attr "$create" "${u4}x" -n
list bus/mdev/devices
write_attr "$create" "${u1}xy" -n
write_attr "$create" "not-a-uuid"
write_attr "$create" ""
write_attr "$create" "55555555555545558555555555555555"
write_attr "$create" "55555555-5555-4555-8555-55555555555g"
write_attr "$create" "$u1"
write_attr "$create" "$(echo "$u1" | tr a-f A-F)"
if [ -n "$second_type" ]; then write_attr "$types_dir/$second_type/create" "$u1"; fi
if [ -n "$other_parent" ]; then
    other_type=$(types_of "$other_parent" | sed -n 1p)
    write_attr "class/mdev_bus/$other_parent/mdev_supported_types/$other_type/create" "$u1"
fi
list bus/mdev/devices
show_instances

echo "# access modes of the type and device attributes"
read_attr "$create"
for attr in name device_api available_instances; do write_attr "$types_dir/$first_type/$attr" "1"; done
read_attr "bus/mdev/devices/$u1/remove"

echo "# create until exhaustion (at most 64)"
n=1
while [ "$n" -le 64 ]; do
    uuid=$(printf 'eeeeeeee-0000-4000-8000-%012d' "$n")
    err=$( (echo "$uuid" > "$root/$create") 2>&1 )
    status=$?
    report write "$create" "'<uuid #$n>\\n'" "$status" "$err"
    [ "$status" -eq 0 ] || break
    n=$((n + 1))
done
show_instances
list bus/mdev/devices

echo "# remove"
remove=bus/mdev/devices/$u1/remove
write_attr "$remove" 0
exists "bus/mdev/devices/$u1"
write_attr "$remove" garbage
exists "bus/mdev/devices/$u1"
write_attr "$remove" 1
exists "bus/mdev/devices/$u1"
write_attr "$remove" 1
list "$types_dir/$first_type/devices"

echo "# clean-up: remove every remaining device"
for dev in $(ls -1 "$root/bus/mdev/devices" | sort); do
    write_attr "bus/mdev/devices/$dev/remove" 1
done
list bus/mdev/devices
show_instances
