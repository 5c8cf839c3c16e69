# shellcheck shell=bash
# Sourced by scripts/two-host/run.sh: the L1 hosts' Debian 12 root filesystem (mmdebstrap from the
# machine's own apt sources plus bookworm-backports through a private apt configuration), cached
# as a tar under the work dir and rebuilt only when its inputs change.

# The Debian packages of an L1 host, besides the kernel image. QEMU, libvirt, SeaBIOS and iPXE come
# from bookworm-backports (the pin below); everything else from bookworm.
rootfs_packages=(
    systemd-sysv dbus udev kmod iproute2 procps dmidecode initramfs-tools openssh-server
    libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
)

# Writes the private apt configuration into directory $1: a backports source and the pin that
# makes apt take QEMU, libvirt and the firmware they need (with their exact-version dependencies)
# from backports. The machine's own sources are passed to mmdebstrap as they are.
write_backports_config() {
    cat > "$1/backports.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    cat > "$1/backports.pref" <<'PREF'
Package: qemu-* libvirt* seabios ipxe-qemu
Pin: release n=bookworm-backports
Pin-Priority: 900
PREF
}

# The machine's Debian sources (deb822 or one-line), one path a line.
machine_apt_sources() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -s $file ]] && grep -Eq '^[^#]*(deb\.debian\.org|debian)' "$file" && echo "$file"
    done
    return 0
}

# Builds $1 (a tar of the root filesystem) with kernel package $2. Inputs: the package list, the
# private apt configuration and the machine's apt sources (the caller keys the cache on them).
build_rootfs_tar() {
    local out=$1 kernel_package=$2 config sources=()
    config=$(mktemp -d "${out%/*}/apt-config.XXXXXX")
    write_backports_config "$config"
    mapfile -t sources < <(machine_apt_sources)
    ((${#sources[@]})) || die "no Debian apt sources on this machine (/etc/apt/sources.list*)"
    local includes scratch=${out%/*}/mmdebstrap.tmp
    # The chroot lives under the work dir, not /tmp: anything that walks /tmp (a grep -r, a
    # cleaner) would walk into its /proc mount and keep mmdebstrap from unmounting it.
    rm -rf --one-file-system "$scratch"
    mkdir -p "$scratch"
    includes=$(IFS=,; echo "${rootfs_packages[*]},$kernel_package")
    # The pin must be in place before apt picks the candidates for --include.
    TMPDIR=$scratch mmdebstrap --quiet --variant=apt --format=tar --include="$includes" \
        --setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" && cp '$config/backports.pref' \"\$1/etc/apt/preferences.d/90-backports.pref\"" \
        --aptopt='Acquire::Retries "3"' \
        bookworm "$out.partial" "${sources[@]}" "$config/backports.sources" >"$config/mmdebstrap.log" 2>&1 || {
        tail -n 40 "$config/mmdebstrap.log" >&2
        rm -rf --one-file-system "$config" "$out.partial" "$scratch"
        die "mmdebstrap failed (last lines above)"
    }
    mv "$out.partial" "$out"
    rm -rf "$config" "$scratch"
}

# A key for the cache of the tar: a hash of everything build_rootfs_tar's result depends on, with
# the kernel package $1 given with its version.
rootfs_cache_key() {
    { declare -f build_rootfs_tar write_backports_config; echo "${rootfs_packages[*]} $1"
        machine_apt_sources | xargs cat; } | sha256sum | cut -c1-16
}
