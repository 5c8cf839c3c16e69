#!/usr/bin/env bash
# Installs what the build and the demo need on Debian 12, only when missing; with --tests also
# what the tests need (servers, browser, the qemu harnesses' tools). Run by scripts/demo.sh and
# scripts/test.sh; safe to run on its own.
set -euo pipefail
tests=false
case ${1:-} in
    --tests) tests=true ;;
    "") ;;
    *) echo "usage: scripts/prerequisites.sh [--tests]" >&2; exit 2 ;;
esac

missing=()
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing+=("$1"); }
need libvirt0          # libvirt.so.0: the P/Invoke target; its in-process test driver runs the integration tests
need libvirt-clients   # virsh, virt-xml-validate and libvirt's RNG schemas
need libxml2-utils     # xmllint, which virt-xml-validate runs
need fuse3             # fusermount3, for the mounted host simulator
need libfuse3-3        # libfuse3.so.3, the P/Invoke target of the FUSE front end
if $tests; then
    need openssh-server    # sshd, started on loopback by tests/Remote.Tests (not as the system service)
    need libvirt-daemon    # libvirtd, serving the test driver remotely to tests/Remote.Tests (not as the system service)
    need inotify-tools     # inotifywait: tests/Adversarial.Tests watches the directory next to hostile sysfs roots
    need etcd-server       # etcd, started on loopback (one member, a 3-member cluster) by tests/Etcd.Tests (not as the system service)
    need etcd-client       # etcdctl, which turns on etcd's authentication in tests/Etcd.Tests (EtcdSecurityTests)
    need chromium          # headless Chromium renders the HTML plan report in tests/ConsoleMigrator.Tests (PlanReportTests)
    need zsh               # tests/ConsoleMigrator.Tests runs the zsh completion script (CommandLineTests)
    need bsdutils          # script(1): the same tests give vfio-migrator a terminal to check its colour and NO_COLOR
    need qemu-system-x86   # qemu: the real-kernel guest and the two-host L1 hosts
    need mmdebstrap        # the two-host L1 hosts' root filesystem (scripts/two-host)
    need e2fsprogs         # mke2fs -d: that root filesystem as an ext4 image
    need openssh-client    # ssh into the two-host L1 hosts
    need python3           # scripts/two-host: free loopback ports
    need libc6-dev         # the static helper the real-kernel guest migrates migref with (tests/RealKernel/migref-migrate.c)
fi

if ((${#missing[@]})); then
    echo "Installing Debian packages: ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
    # Another apt run (unattended upgrades, a parallel install) may hold the dpkg lock: wait for it.
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET 10 SDK is required (dotnet on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
    exit 1
fi
