#!/bin/sh
# One fixed sequence of operations on the mdev sysfs ABI, printed as a normalised transcript so
# that the real kernel (in a qemu guest) and the host simulator (mounted with FUSE) can be
# compared line by line.
#
# Usage: busybox sh sysfs-ops.sh SYSFS_ROOT
#   SYSFS_ROOT  /sys in the guest; the simulator's mount point on the host.
#
# Only busybox/coreutils-level commands are used (ls, cat, echo, readlink, test, mktemp). Every
# step prints one line: "<op> <path relative to the root> [<value>] => <status> [<ERRNO>|<data>]".
# Error messages differ between busybox, coreutils and shells, so only the errno NAME is kept.
# Every mdev parent found under class/mdev_bus is exercised; its devices are all removed at the end.
# Where a type has the proposed migration_version attribute (the reference driver migref), a last
# section probes it, the device-level one and the parent's migration_query (write and ask).
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

# Every step runs without a subshell where it can (results go through scratch files): under
# qemu's software emulation each fork costs tens of milliseconds.
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT
out=$scratch/out
err=$scratch/err

# Sets $joined to the lines of file $1 joined by $2.
join_file() {
    joined=
    first=true
    while IFS= read -r line || [ -n "$line" ]; do
        if $first; then joined=$line; first=false; else joined=$joined$2$line; fi
    done < "$1"
}

# Sets $errno to the errno name whose strerror text is in $1, a message from busybox, coreutils
# or a shell (their wordings differ; the strerror part is what they share).
errno_name() {
    case $1 in
        *"Invalid argument"*) errno=EINVAL ;;
        *"No space left on device"*) errno=ENOSPC ;;
        *"Too many users"*) errno=EUSERS ;;
        *"File exists"*) errno=EEXIST ;;
        *"Permission denied"*) errno=EACCES ;;
        # busybox sh words ENOENT on a redirection as "nonexistent directory".
        *"No such file or directory"* | *"nonexistent directory"*) errno=ENOENT ;;
        *"Operation not permitted"*) errno=EPERM ;;
        *"No such device"*) errno=ENODEV ;;
        *"Resource temporarily unavailable"*) errno=EAGAIN ;;
        *"Device or resource busy"*) errno=EBUSY ;;
        *"Input/output error"* | *"I/O error"*) errno=EIO ;;
        *"Is a directory"*) errno=EISDIR ;;
        *"Not a directory"*) errno=ENOTDIR ;;
        *"Function not implemented"*) errno=ENOSYS ;;
        *"Operation not supported"* | *"Not supported"*) errno=EOPNOTSUPP ;;
        *"Read-only file system"*) errno=EROFS ;;
        *"Cannot allocate memory"*) errno=ENOMEM ;;
        *"Bad address"*) errno=EFAULT ;;
        *"No data available"*) errno=ENODATA ;;
        *) errno="E?($1)" ;;
    esac
}

# Prints "<op> <relpath>[ <shown value>] => ok[ <data>]" or "... => fail <ERRNO>" (from $err).
# $1 op, $2 relpath, $3 shown value ("" for none), $4 exit status, $5 data.
report() {
    shown=${3:+ $3}
    if [ "$4" -eq 0 ]; then
        printf '%s %s%s => ok%s\n' "$1" "$2" "$shown" "${5:+ $5}"
    else
        join_file "$err" ' '
        errno_name "$joined"
        printf '%s %s%s => fail %s\n' "$1" "$2" "$shown" "$errno"
    fi
}

# Directory listing, hidden entries included; ls sorts bytewise under LC_ALL=C.
list() {
    ls -1A "$root/$1" > "$out" 2> "$err"
    status=$?
    join_file "$out" ' '
    report list "$1" "" "$status" "$joined"
}

read_attr() {
    cat "$root/$1" > "$out" 2> "$err"
    status=$?
    join_file "$out" '|'
    report read "$1" "" "$status" "$joined"
}

# Writes $2 with a trailing newline (echo) or, with $3 = -n, without one; $4 overrides the
# value shown in the transcript.
write_attr() {
    # echo -n is not POSIX, but busybox sh and bash (the shells this script accepts) have it,
    # and their printf builtins do not all report a failed write. $? is the write's status.
    # shellcheck disable=SC3037,SC2320
    if [ "${3:-}" = -n ]; then
        { echo -n "$2" > "$root/$1"; } 2> "$err"
        status=$?
        report write "$1" "'${4:-$2}'" "$status"
    else
        { echo "$2" > "$root/$1"; } 2> "$err"
        # shellcheck disable=SC2320
        status=$?
        report write "$1" "'${4:-$2}\\n'" "$status"
    fi
}

# The name of the entry a symlink points to (its full target differs between kernel and simulator).
link_name() {
    readlink "$root/$1" > "$out" 2> "$err"
    status=$?
    # readlink (busybox and coreutils) fails silently: name the errno readlink(2) gives.
    if [ "$status" -ne 0 ] && [ ! -s "$err" ]; then
        if [ -e "$root/$1" ] || [ -L "$root/$1" ]; then
            echo "Invalid argument" > "$err"
        else
            echo "No such file or directory" > "$err"
        fi
    fi
    join_file "$out" ' '
    report readlink "$1" "" "$status" "${joined##*/}"
}

exists() {
    if test -e "$root/$1"; then echo "exists $1 => yes"; else echo "exists $1 => no"; fi
}

# Types never change while the drivers are loaded: list them once, as "parent/type" words.
# Globs expand sorted bytewise under LC_ALL=C; sysfs names hold no spaces.
parents=
type_paths=
for parent_dir in "$root"/class/mdev_bus/*; do
    [ -e "$parent_dir" ] || continue
    parent=${parent_dir##*/}
    parents="$parents $parent"
    for type_dir in "$parent_dir"/mdev_supported_types/*; do
        [ -e "$type_dir" ] && type_paths="$type_paths $parent/${type_dir##*/}"
    done
done

# Sets $first_type and $second_type to the first two types of parent $1.
types_of() {
    first_type='' second_type=''
    for path in $type_paths; do
        case $path in
            "$1"/*)
                if [ -z "$first_type" ]; then first_type=${path#*/}
                elif [ -z "$second_type" ]; then second_type=${path#*/}; fi ;;
        esac
    done
}

echo "# listings and type attributes"
list class/mdev_bus
for parent in $parents; do
    exists "class/mdev_bus/$parent/mdev_supported_types"
    list "class/mdev_bus/$parent/mdev_supported_types"
    for path in $type_paths; do
        case $path in "$parent"/*) ;; *) continue ;; esac
        dir=class/mdev_bus/$parent/mdev_supported_types/${path#*/}
        list "$dir"
        for attr in name description device_api available_instances; do read_attr "$dir/$attr"; done
        list "$dir/devices"
    done
done
list bus/mdev/devices

# Every type's count, which changes as devices come and go.
show_instances() {
    for path in $type_paths; do
        read_attr "class/mdev_bus/${path%%/*}/mdev_supported_types/${path#*/}/available_instances"
    done
}

# Removes every mdev on the host, then shows what is left and the types' instances.
remove_every_device() {
    for device_dir in "$root"/bus/mdev/devices/*; do
        [ -e "$device_dir" ] || continue
        write_attr "bus/mdev/devices/${device_dir##*/}/remove" 1
    done
    list bus/mdev/devices
    show_instances
}

# shellcheck disable=SC2086  # split into words on purpose
set -- $parents
first_parent=${1:-}
other_parent=${2:-}
if [ -n "$other_parent" ]; then
    types_of "$other_parent"
    other_type=$first_type
fi
types_of "$first_parent"
if [ -z "$first_type" ]; then
    echo "sysfs-ops.sh: no mdev parent with a supported type under $root/class/mdev_bus" >&2
    exit 1
fi
types_dir=class/mdev_bus/$first_parent/mdev_supported_types
create=$types_dir/$first_type/create

u1=abcdef01-1111-4111-8111-111111111111
u1_upper=ABCDEF01-1111-4111-8111-111111111111
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
write_attr "$create" "$u1_upper"
if [ -n "$second_type" ]; then write_attr "$types_dir/$second_type/create" "$u1"; fi
if [ -n "$other_parent" ]; then
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
    if [ "$n" -lt 10 ]; then number=0$n; else number=$n; fi
    write_attr "$create" "eeeeeeee-0000-4000-8000-0000000000$number" "" "<uuid #$n>"
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
remove_every_device

# --- the proposed migration attributes (only where a type has migration_version) -------------
# The reference driver's probe vocabulary: version strings written into the attributes. They are
# test inputs, not parsed here; a parent of another vendor would refuse them all.
migration_probes="migref-large:2.0 migref-large:2.1 migref-large:2.2 migref-large:1.9 migref-large:3.0 migref-small:2.1 migref-nomig:2.1 other-vendor-large:2.1 migref-large:02.1 migref-large:2.1.0 migref-large:+2.1 migref-large:2.01"

# Opens $1 read-write as fd 3 (one open file for several steps); "command" keeps a failed
# redirection from ending the script.
open_rw() {
    command exec 3<> "$root/$1" 2> "$err"
    status=$?
    report open "$1" "" "$status"
}

# Writes $2 (no newline) to the open fd 3 of attribute $1; sets $status and $written (the file's
# position afterwards: a refused write does not move it).
write_fd() {
    # shellcheck disable=SC3037,SC2320
    { echo -n "$2" >&3; } 2> "$err"
    status=$?
    report write "$1" "'$2'" "$status"
    if [ "$status" -eq 0 ]; then written=${#2}; else written=0; fi
}

# The reason of the last refusal on fd 3: the bytes at offset 4096 of that open file, read from
# position $1 (dd skips relative to the current position).
read_reason() {
    dd bs=$((4096 - $1)) skip=1 count=1 <&3 > "$out" 2> "$err"
    status=$?
    join_file "$out" '|'
    report reason "$2" "" "$status" "$joined"
}

# Writes $2 to attribute $1 on a fresh open file, then reads that file's reason.
write_with_reason() {
    open_rw "$1"
    [ "$status" -eq 0 ] || return 0
    write_fd "$1" "$2"
    read_reason "$written" "$1"
    exec 3>&-
}

# Write and ask: writes version $2 to the parent's query attribute $1, reads the answer (the
# rest of the file after the question), and the reason when nothing accepts. Answers are read with
# dd (read(2)), not cat: busybox cat uses sendfile, which on a FUSE mount goes through the page
# cache that two open files of one attribute share, so the simulator would show one file's answer
# through the other.
ask() {
    open_rw "$1"
    [ "$status" -eq 0 ] || return 0
    write_fd "$1" "$2"
    if [ "$status" -eq 0 ]; then
        dd bs=4096 count=1 <&3 > "$out" 2> "$err"
        status=$?
        join_file "$out" '|'
        report answer "$1" "" "$status" "$joined"
        if [ -z "$joined" ]; then read_reason "$written" "$1"; fi
    else
        read_reason 0 "$1"
    fi
    exec 3>&-
}

migration_types=
for path in $type_paths; do
    if [ -e "$root/class/mdev_bus/${path%%/*}/mdev_supported_types/${path#*/}/migration_version" ]; then
        migration_types="$migration_types $path"
    fi
done
if [ -n "$migration_types" ]; then
    echo "# migration_version on the types"
    for path in $type_paths; do
        exists "class/mdev_bus/${path%%/*}/mdev_supported_types/${path#*/}/migration_version"
    done
    # shellcheck disable=SC2086  # split into words on purpose
    set -- $migration_types
    mig_parent=${1%%/*}
    mig_dir=class/mdev_bus/$mig_parent/mdev_supported_types/${1#*/}
    other_mig_dir=class/mdev_bus/${2%%/*}/mdev_supported_types/${2#*/}
    read_attr "$mig_dir/migration_version"
    own=$joined
    read_attr "$other_mig_dir/migration_version"
    other=$joined
    write_attr "$mig_dir/migration_version" "$own" -n
    write_attr "$mig_dir/migration_version" "$own"
    write_attr "$mig_dir/migration_version" "$other" -n
    for probe in $migration_probes; do write_attr "$mig_dir/migration_version" "$probe" -n; done
    write_attr "$mig_dir/migration_version" "not a version"
    write_attr "$mig_dir/migration_version" "$own$own$own$own$own" -n "<own version x5>"

    echo "# the reason for a refusal, per open file"
    write_with_reason "$mig_dir/migration_version" "migref-large:3.0"
    write_with_reason "$mig_dir/migration_version" "$other"
    write_with_reason "$mig_dir/migration_version" "garbage"
    write_with_reason "$mig_dir/migration_version" "$own"

    echo "# migration_version on the devices"
    write_attr "$mig_dir/create" "$u1"
    exists "bus/mdev/devices/$u1/migration_version"
    read_attr "bus/mdev/devices/$u1/migration_version"
    write_attr "bus/mdev/devices/$u1/migration_version" "$own" -n
    write_attr "bus/mdev/devices/$u1/migration_version" "$other" -n
    write_with_reason "bus/mdev/devices/$u1/migration_version" "migref-large:1.9"
    for path in $type_paths; do
        case " $migration_types " in *" $path "*) continue ;; esac
        case $path in "$mig_parent"/*) ;; *) continue ;; esac
        write_attr "class/mdev_bus/$mig_parent/mdev_supported_types/${path#*/}/create" "$u2_lower"
        exists "bus/mdev/devices/$u2_lower/migration_version"
        break
    done
    show_instances

    echo "# write and ask (the parent's migration_query)"
    query=class/mdev_bus/$mig_parent/migration_query
    exists "$query"
    read_attr "$query"
    ask "$query" "$own"
    ask "$query" "$other"
    ask "$query" "migref-large:3.0"
    ask "$query" "migref-nomig:2.1"
    ask "$query" "garbage"
    write_attr "bus/mdev/devices/$u1/remove" 1
    ask "$query" "$own"
    echo "# each open file keeps its own question"
    open_rw "$query"
    write_fd "$query" "$own"
    command exec 4<> "$root/$query" 2> "$err"
    # shellcheck disable=SC3037,SC2320
    { echo -n "$other" >&4; } 2> "$err"
    status=$?
    report write "$query" "'$other' (a second open file)" "$status"
    dd bs=4096 count=1 <&3 > "$out" 2> "$err"
    status=$?
    join_file "$out" '|'
    report answer "$query" "" "$status" "$joined"
    dd bs=4096 count=1 <&4 > "$out" 2> "$err"
    status=$?
    join_file "$out" '|'
    report answer "$query" "" "$status" "$joined"
    exec 3>&- 4>&-

    echo "# clean-up of the migration section"
    remove_every_device
fi
