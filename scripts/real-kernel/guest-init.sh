#!/bin/busybox sh
# shellcheck shell=dash
# /init of the test initramfs (busybox sh as PID 1). Loads the modules named in /modules.order,
# runs /sysfs-ops.sh against the real /sys once per driver of /drivers (only that driver loaded)
# and once with the drivers of /together loaded, each with its parameters from /params
# ("DRIVER ARGS..." lines), plus /DRIVER-migrations.sh where there is one (real VFIO migrations
# between migref mdevs), and writes the transcripts to the second serial port between markers:
#   @@begin NAME
#   ...transcript...
#   @@end NAME status=N
# The kernel console (ttyS0) stays separate, so kernel messages never mix into a transcript.
# With /planner.env in the initramfs (run.sh --planner) it instead mounts the host's root (9p,
# read-only), chroots into it with only mtty loaded and runs planner-ops.sh there, then (where
# migref was built) with only migref loaded and runs planner-ops.sh --migref, all between
# "@@begin planner" and "@@end planner status=N".
# Always powers off, whatever fails; the host bounds the whole boot with a timeout as well.

export PATH=/bin
/bin/busybox mount -t proc proc /proc
# The applet links are made here rather than on the host: --install links to /proc/self/exe.
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "real-kernel: userspace up at $(cut -d' ' -f1 /proc/uptime) s"

results=/dev/ttyS1
stty -F "$results" raw -echo 2>/dev/null

load() {
    params=
    while read -r name args; do
        if [ "$name" = "$1" ]; then params=$args; fi
    done < /params
    # shellcheck disable=SC2086  # the parameters are words
    if ! insmod "/modules/$1.ko" $params; then
        echo "real-kernel: insmod $1 failed" >&2
        return 1
    fi
}

# Runs transcript $1: "sh /sysfs-ops.sh /sys", or the script and arguments that follow.
run_ops() {
    name=$1
    shift
    if [ "$#" -eq 0 ]; then set -- /sysfs-ops.sh /sys; fi
    echo "@@begin $name" > "$results"
    sh "$@" > "$results" 2>/dev/console
    echo "@@end $name status=$?" > "$results"
}

load_all() {
    while read -r module; do load "$module" || return 1; done < "$1"
}

# The host's root, read-only, with writable /tmp and the guest's own proc, sys and dev.
mount_host() {
    root=/host
    mkdir -p "$root"
    mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,ro hostroot "$root" || return 1
    # A checkout under /tmp (CI may clone there) would vanish under the tmpfs: keep a view of it
    # from before the tmpfs, and bind it back at the same path afterwards.
    case $repo in
        /tmp/*) mkdir -p /repo-view && mount -o bind "$root$repo" /repo-view || return 1 ;;
    esac
    mount -t tmpfs tmpfs "$root/tmp" || return 1
    case $repo in
        /tmp/*) mkdir -p "$root$repo" && mount -o bind /repo-view "$root$repo" || return 1 ;;
    esac
    # .NET keeps shared memory in /dev/shm, which devtmpfs lacks.
    mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm || return 1
    for dir in proc sys dev; do mount -o bind "/$dir" "$root/$dir" || return 1; done
}

run_planner() {
    repo='' generated_host='' migref_host=''
    # shellcheck disable=SC1091  # written by run.sh: repo=<the host's checkout>, generated_host=<file>, migref_host=<file>
    . /planner.env
    if [ -z "$repo" ] || [ -z "$generated_host" ] || [ -z "$migref_host" ]; then
        echo "real-kernel: /planner.env names no repo or no generated host files" >&2
        return 1
    fi
    load_all /virtfs.order || return 1
    mount_host || return 1
    load mtty || return 1
    # libvirt names the test-driver host after it ("(none)" otherwise).
    hostname real-kernel-guest
    echo "real-kernel: planner starts at $(cut -d' ' -f1 /proc/uptime) s"
    echo "@@begin planner" > "$results"
    chroot "$root" /bin/bash "$repo/scripts/real-kernel/planner-ops.sh" "$repo" "$generated_host" > "$results" 2>/dev/console
    status=$?
    rmmod mtty
    # Then the probe counts on the reference driver, where it was built (6.12), with mtty gone.
    if [ "$status" -eq 0 ] && [ -f /modules/migref.ko ]; then
        if load migref; then
            chroot "$root" /bin/bash "$repo/scripts/real-kernel/planner-ops.sh" --migref "$repo" "$migref_host" > "$results" 2>/dev/console
            status=$?
            rmmod migref
        else
            status=1
        fi
    fi
    echo "@@end planner status=$status" > "$results"
}

main() {
    load_all /modules.order || return 1
    if [ -f /planner.env ]; then
        run_planner
        return
    fi
    read -r drivers < /drivers
    for driver in $drivers; do
        load "$driver" || return 1
        run_ops "$driver"
        # A driver's real migrations, where it has a script for them (migref).
        if [ -f "/$driver-migrations.sh" ]; then run_ops "$driver-migrations" "/$driver-migrations.sh" /sys /migref-migrate; fi
        rmmod "$driver" || return 1
    done
    read -r together < /together
    for driver in $together; do load "$driver" || return 1; done
    run_ops "$(echo "$together" | tr ' ' '-')"
    for driver in $together; do rmmod "$driver" || return 1; done
}

main
status=$?
if [ "$status" -ne 0 ]; then
    echo "real-kernel: the guest run failed; last kernel messages:"
    dmesg | tail -n 40
fi
echo "@@done status=$status" > "$results"
echo "real-kernel: guest done at $(cut -d' ' -f1 /proc/uptime) s"
poweroff -f
