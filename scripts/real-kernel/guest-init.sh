#!/bin/busybox sh
# shellcheck shell=dash
# /init of the test initramfs (busybox sh as PID 1). Loads the modules named in /modules.order,
# runs /sysfs-ops.sh against the real /sys once per driver (only that driver loaded) and once with
# every driver loaded, and writes the transcripts to the second serial port between markers:
#   @@begin NAME
#   ...transcript...
#   @@end NAME status=N
# The kernel console (ttyS0) stays separate, so kernel messages never mix into a transcript.
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
    if ! insmod "/modules/$1.ko"; then
        echo "real-kernel: insmod $1 failed" >&2
        return 1
    fi
}

run_ops() {
    name=$1
    echo "@@begin $name" > "$results"
    sh /sysfs-ops.sh /sys > "$results" 2>/dev/console
    echo "@@end $name status=$?" > "$results"
}

main() {
    while read -r module; do load "$module" || return 1; done < /modules.order
    read -r drivers < /drivers
    for driver in $drivers; do
        load "$driver" || return 1
        run_ops "$driver"
        rmmod "$driver" || return 1
    done
    for driver in $drivers; do load "$driver" || return 1; done
    run_ops "$(echo "$drivers" | tr ' ' '-')"
    for driver in $drivers; do rmmod "$driver" || return 1; done
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
