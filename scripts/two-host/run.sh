#!/usr/bin/env bash
# Boots two "hypervisor hosts" (L1s) under qemu on this machine, each a Debian 12 root filesystem
# with Debian's 6.12 kernel, the kernel's mtty sample driver, our reference driver migref (installed,
# not loaded: the truth table loads it with each row's driver version), and QEMU 10 + libvirt 11 from
# bookworm-backports, joined by a private network; then runs COMMAND against them (by default the
# two-host scenarios, tests/TwoHost.Tests) and stops them.
#
# Usage: scripts/two-host/run.sh [--work-dir DIR] [--kernel-work-dir DIR] [--boot-timeout S]
#                                [--accel auto|kvm|tcg] [-- COMMAND ARGS...]
#   --work-dir         cache of the root filesystem, the disk image and the SSH key
#                      (default /var/tmp/vfio-two-host)
#   --kernel-work-dir  cache of the kernel image and the mtty build, shared with
#                      scripts/real-kernel (default /var/tmp/vfio-real-kernel)
#   --boot-timeout     seconds each host gets to answer on SSH with libvirtd and mtty up (default 300)
#   --accel            auto (default): KVM when a short boot of the L1 kernel under KVM gets to
#                      its init (the verdict is cached), TCG otherwise
#   COMMAND            runs with the hosts up and TWO_HOST_* variables describing them (see
#                      docs/real-migration.md); e.g. "-- bash" for an interactive session
#
# The hosts: twohost-a and twohost-b, 1 GiB and one vCPU each (TCG: -accel tcg,tb-size=256),
# private link 10.77.0.1 <-> 10.77.0.2 (a qemu UDP socket netdev on 127.0.0.1), SSH and libvirt
# (qemu+libssh, checked against a generated known_hosts) through loopback port-forwards.
# Everything started is stopped on exit; every wait is bounded; console logs are printed on
# failure. Prints "two-host: timings ..." and ends with "N passed, N failed".
set -euo pipefail
log_prefix=two-host
# shellcheck source-path=SCRIPTDIR source=../real-kernel/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../real-kernel/lib.sh"
# shellcheck source-path=SCRIPTDIR source=rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"
TWO_HOST_DIR=$REPO_ROOT/scripts/two-host

work_root=/var/tmp/vfio-two-host
kernel_work_root=/var/tmp/vfio-real-kernel
boot_timeout=300
accel=auto
command=()
while (($#)); do
    case $1 in
        --work-dir) work_root=${2:?--work-dir needs a directory}; shift 2 ;;
        --kernel-work-dir) kernel_work_root=${2:?--kernel-work-dir needs a directory}; shift 2 ;;
        --boot-timeout) boot_timeout=${2:?--boot-timeout needs seconds}; shift 2 ;;
        --accel) accel=${2:?--accel needs auto, kvm or tcg}; shift 2 ;;
        --) shift; command=("$@"); break ;;
        -h | --help) print_usage "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $boot_timeout =~ ^[1-9][0-9]*$ ]] || die "--boot-timeout needs a whole number of seconds, not '$boot_timeout'"
[[ $accel =~ ^(auto|kvm|tcg)$ ]] || die "--accel must be auto, kvm or tcg, not '$accel'"
for dir in "$work_root" "$kernel_work_root"; do
    [[ $dir =~ ^[^[:space:]|\']+$ ]] || die "'$dir' must not contain blanks, quotes or '|'"
done
mkdir -p "$work_root" "$kernel_work_root"
work_root=$(cd "$work_root" && pwd) kernel_work_root=$(cd "$kernel_work_root" && pwd)
series=6.12
meta_package=$(kernel_meta_package "$series")
hosts=(a b)
started=$(date +%s)

# --- the image (cached) ------------------------------------------------------------------------
# Sets $image_dir: the ext4 image, its kernel and initrd, the SSH key and the hosts' public key.
prepare_image() {
    ensure_kernel_build_tools
    ensure_debian_packages qemu-system-x86 mmdebstrap e2fsprogs openssh-client
    open_kernel_work "$kernel_work_root"
    tmp=$(mktemp -d "$work_root/run.XXXXXX")
    fetch_kernel
    build_drivers_once
    local mtty=$work/build/mtty.ko migref=$work/build/migref.ko
    # The root filesystem's inputs: its packages, the private apt configuration, the machine's
    # sources, the kernel package. The image's: those, this script's customisation, the two
    # modules, the key.
    local rootfs_key image_key
    rootfs_key=$(rootfs_cache_key "linux-image-$release=$package_version")
    local rootfs_tar=$work_root/rootfs-$rootfs_key.tar
    if [[ ! -f $rootfs_tar ]]; then
        log "building the root filesystem (mmdebstrap; a few minutes)"
        rm -f "$work_root"/rootfs-*.tar
        build_rootfs_tar "$rootfs_tar" "linux-image-$release"
    fi
    [[ -f $work_root/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C two-host -f "$work_root/id_ed25519"
    image_key=$( { echo "$rootfs_key"; declare -f customize_rootfs; cat "$TWO_HOST_DIR"/files/*; sha256sum "$mtty" "$migref" "$work_root/id_ed25519.pub"; } |
        sha256sum | cut -c1-16)
    image_dir=$work_root/image-$image_key
    if [[ ! -f $image_dir/.done ]]; then
        log "making the disk image"
        rm -rf "$work_root"/image-*
        make_image "$rootfs_tar" "$mtty" "$migref"
    fi
}

# Writes the hosts' configuration into the unpacked root filesystem $1, with the modules $2 (mtty,
# loaded at boot) and $3 (migref, loaded by the tests with their module parameters).
customize_rootfs() {
    local root=$1 mtty=$2 migref=$3 module expected actual
    expected=$(modinfo -b "$root" -k "$release" -F vermagic vfio)
    for module in "$mtty" "$migref"; do
        install -D -m 644 "$module" "$root/lib/modules/$release/updates/${module##*/}"
        actual=$(modinfo -F vermagic "$module")
        [[ $expected == "$actual" ]] || die "${module##*/} vermagic '$actual' differs from the image's vfio '$expected'"
    done
    depmod -b "$root" "$release"
    echo mtty > "$root/etc/modules-load.d/mtty.conf"
    install -d -m 700 "$root/root/.ssh"
    install -m 600 "$work_root/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
    echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
    rm -f "$root/etc/hostname"   # each host's name comes from the kernel command line
    cat "$TWO_HOST_DIR/files/hosts" >> "$root/etc/hosts"
    install -m 644 "$TWO_HOST_DIR"/files/*.network "$root/etc/systemd/network/"
    # Meant for a throw-away private test network only (see docs/real-migration.md).
    echo 'security_driver = "none"' >> "$root/etc/libvirt/qemu.conf"
    rm -f "$root/etc/libvirt/qemu/networks/autostart/default.xml"
    systemctl --root="$root" --quiet enable systemd-networkd.service
    systemctl --root="$root" --quiet mask systemd-networkd-wait-online.service apt-daily.timer \
        apt-daily-upgrade.timer libvirt-guests.service
}

make_image() {
    local rootfs_tar=$1 mtty=$2 migref=$3 root=$tmp/rootfs staging=$tmp/image
    mkdir -p "$root" "$staging"
    tar -xf "$rootfs_tar" -C "$root" --numeric-owner
    customize_rootfs "$root" "$mtty" "$migref"
    cp "$root/boot/vmlinuz-$release" "$staging/vmlinuz"
    cp "$root/boot/initrd.img-$release" "$staging/initrd.img"
    cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$staging/host-key.pub"
    mke2fs -q -t ext4 -L two-host -d "$root" "$staging/root.img" 3G >/dev/null
    rm -rf "$root"
    touch "$staging/.done"
    mv "$staging" "$image_dir"
}

# --- the hosts ---------------------------------------------------------------------------------
# A free TCP or UDP port ($1) on 127.0.0.1.
free_port() {
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

# Decides $accel_args: KVM when the L1 kernel, booted briefly under KVM without a root file
# system, gets as far as looking for one (proof that it decompressed and started), TCG otherwise. The verdict is
# cached per kernel, qemu and machine kernel.
choose_accel() {
    local tcg=(-accel tcg,tb-size=256 -cpu max) kvm=(-accel kvm -cpu host)
    case $accel in
        tcg) accel_args=("${tcg[@]}"); accel_name=tcg; return ;;
        kvm) accel_args=("${kvm[@]}"); accel_name=kvm; return ;;
    esac
    local verdict=$work_root/kvm-$release-$(qemu-system-x86_64 --version | head -n 1 | tr -cd '0-9.')-$(uname -r)
    if [[ ! -f $verdict ]]; then
        if [[ -w /dev/kvm ]] && timeout --kill-after=5 30 qemu-system-x86_64 "${kvm[@]}" -m 512 -smp 1 \
            -display none -no-reboot -kernel "$image_dir/vmlinuz" -append 'console=ttyS0 panic=-1' \
            -serial "file:$tmp/kvm-probe.log" -nic none </dev/null >/dev/null 2>&1 &&
            grep -Eq 'VFS: Unable to mount root|No working init found' "$tmp/kvm-probe.log"; then
            echo kvm > "$verdict"
        else
            echo tcg > "$verdict"
        fi
    fi
    if [[ $(cat "$verdict") == kvm ]]; then
        accel_args=("${kvm[@]}"); accel_name=kvm
    else
        accel_args=("${tcg[@]}"); accel_name="tcg (the L1 kernel did not start under KVM: see docs/real-migration.md)"
    fi
}

declare -A qemu_pid ssh_port host_uuid
link_ports=()

start_host() {
    local host=$1 index=$2 mgmt_mac link_mac local_port peer_port
    mgmt_mac=52:54:00:77:00:0$index link_mac=52:54:00:77:01:0$index
    local_port=${link_ports[index - 1]} peer_port=${link_ports[2 - index]}
    ssh_port[$host]=$(free_port tcp)
    host_uuid[$host]=$(printf '7a0c0000-0000-4000-8000-00000000000%d' "$index")
    # no_timer_check: under TCG on a busy machine the kernel's IO-APIC timer check fails and it
    # panics ("IO-APIC + timer doesn't work"); panic=-1 with -no-reboot ends qemu at a panic.
    # snapshot=on: each host writes to its own temporary copy-on-write overlay of the one image.
    qemu-system-x86_64 -name "twohost-$host" "${accel_args[@]}" -machine q35 -m 1024 -smp 1 \
        -uuid "${host_uuid[$host]}" -display none -no-reboot \
        -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0 quiet no_timer_check panic=-1 systemd.hostname=twohost-$host systemd.machine_id=${host_uuid[$host]//-/}" \
        -drive "file=$image_dir/root.img,format=raw,if=virtio,snapshot=on" \
        -netdev "user,id=mgmt,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:${ssh_port[$host]}-:22" \
        -device "virtio-net-pci,netdev=mgmt,mac=$mgmt_mac" \
        -netdev "socket,id=link,udp=127.0.0.1:$peer_port,localaddr=127.0.0.1:$local_port" \
        -device "virtio-net-pci,netdev=link,mac=$link_mac" \
        -serial "file:$run_dir/console-$host.log" -monitor none \
        </dev/null >"$run_dir/qemu-$host.log" 2>&1 &
    qemu_pid[$host]=$!
}

stop_hosts() {
    local host pid
    for host in "${hosts[@]}"; do
        pid=${qemu_pid[$host]:-}
        if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
    done
    for host in "${hosts[@]}"; do
        pid=${qemu_pid[$host]:-}
        [[ -n $pid ]] || continue
        timeout 20 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        qemu_pid[$host]=
    done
}

# Runs a command on host $1 as root over SSH.
on_host() {
    local host=$1
    shift
    ssh -q -i "$work_root/id_ed25519" -o UserKnownHostsFile="$run_dir/known_hosts" -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=10 -p "${ssh_port[$host]}" root@127.0.0.1 "$@"
}

# Waits (bounded) until host $1 answers on SSH with libvirtd and mtty ready.
wait_for_host() {
    local host=$1 deadline=$(($(date +%s) + boot_timeout))
    while (($(date +%s) < deadline)); do
        kill -0 "${qemu_pid[$host]}" 2>/dev/null || { log "qemu of twohost-$host exited"; return 1; }
        if on_host "$host" 'test -d /sys/class/mdev_bus/mtty && virsh -q -c qemu:///system version >/dev/null' 2>/dev/null; then
            return 0
        fi
        sleep 3
    done
    log "twohost-$host was not ready (SSH, libvirtd, mtty) within $boot_timeout s"
    return 1
}

fail_with_consoles() {
    log "$1"
    local host
    for host in "${hosts[@]}"; do
        print_console_log "twohost-$host" "$run_dir/console-$host.log"
        [[ -s $run_dir/qemu-$host.log ]] && { log "qemu of twohost-$host said:"; cat "$run_dir/qemu-$host.log" >&2; }
    done
    exit 1
}

write_environment() {
    local host upper
    : > "$run_dir/known_hosts"
    for host in "${hosts[@]}"; do
        echo "[127.0.0.1]:${ssh_port[$host]} $(cut -d' ' -f1,2 "$image_dir/host-key.pub")" >> "$run_dir/known_hosts"
    done
    {
        echo "TWO_HOST_KEY=$work_root/id_ed25519"
        echo "TWO_HOST_KNOWN_HOSTS=$run_dir/known_hosts"
        echo "TWO_HOST_GUEST_XML=$TWO_HOST_DIR/l2-guest.xml"
        for host in "${hosts[@]}"; do
            upper=${host^^}
            echo "TWO_HOST_${upper}_NAME=twohost-$host"
            echo "TWO_HOST_${upper}_SSH_PORT=${ssh_port[$host]}"
            # Quoted: the URI's '&' would end the assignment where this file is sourced.
            echo "TWO_HOST_${upper}_URI='qemu+libssh://root@127.0.0.1:${ssh_port[$host]}/system?keyfile=$work_root/id_ed25519&known_hosts=$run_dir/known_hosts&sshauth=privkey'"
        done
    } > "$run_dir/hosts.env"
}

cleanup() {
    stop_hosts
    rm -rf "${tmp:-}"
}

main() {
    local t0 t1 t2 t3
    t0=$(date +%s)
    prepare_image
    trap cleanup EXIT
    trap 'exit 143' TERM INT
    t1=$(date +%s)
    run_dir=$tmp
    link_ports=("$(free_port udp)" "$(free_port udp)")
    choose_accel
    log "hosts: ${accel_name}; image $image_dir"
    local index=1 host
    for host in "${hosts[@]}"; do start_host "$host" "$index"; index=$((index + 1)); done
    write_environment
    for host in "${hosts[@]}"; do
        wait_for_host "$host" || fail_with_consoles "twohost-$host did not come up"
    done
    t2=$(date +%s)
    log "both hosts up: $(on_host a 'uname -r; virsh -c qemu:///system version --daemon | tr -s " " | paste -sd";"' | paste -sd' ')"
    local counts
    command_status=0
    set -a
    # shellcheck source=/dev/null
    source "$run_dir/hosts.env"
    set +a
    if ((${#command[@]})); then
        "${command[@]}" || command_status=$?
    else
        # '|| ...' keeps set -e from ending the script before the timings and the counts.
        bash "$TWO_HOST_DIR/scenarios.sh" 2>&1 | tee "$run_dir/scenarios.log" || command_status=${PIPESTATUS[0]}
    fi
    t3=$(date +%s)
    stop_hosts
    log "timings image=$((t1 - t0))s boot=$((t2 - t1))s on $accel_name, scenarios=$((t3 - t2))s total=$(($(date +%s) - started))s"
    if ((command_status != 0)); then
        for host in "${hosts[@]}"; do print_console_log "twohost-$host" "$run_dir/console-$host.log"; done
    fi
    if [[ -f $run_dir/scenarios.log ]]; then
        counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$run_dir/scenarios.log" | tail -n 1)
        echo "${counts:-0 passed, 1 failed}"
    fi
    return "$command_status"
}

main
