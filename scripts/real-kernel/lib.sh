# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts that source it
# Shared by the real-kernel scripts (sourced, not run): messages, paths, transcript checks.

REAL_KERNEL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$REAL_KERNEL_DIR/../.." && pwd)
EXPECTED_DIR=$REPO_ROOT/tests/RealKernel/expected

# The prefix of every message; the two-host scripts set their own before sourcing this file.
log_prefix=${log_prefix:-real-kernel}
log() { printf '%s: %s\n' "$log_prefix" "$*" >&2; }
die() { printf '%s: error: %s\n' "$log_prefix" "$*" >&2; exit 1; }

# Installs those of the named Debian packages that are missing (needs root then).
ensure_debian_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages ${missing[*]}; run as root or install them"
    log "installing Debian packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building the sample drivers out of tree needs. libelf1, libssl3, zlib1g and dwarves (pahole)
# are what the unpacked linux-kbuild package's tools need: the dependencies apt would have
# installed with it.
ensure_kernel_build_tools() {
    ensure_debian_packages gcc-12 make kmod xz-utils libelf1 libssl3 zlib1g dwarves
}

# Prints the console log $2 of guest $1 (carriage returns removed) to stderr, when there is one.
print_console_log() {
    [[ -f $2 ]] || return 0
    log "console log of $1 follows"
    tr -d '\r' < "$2" >&2
}

# Prints the comment block at the top of script $1 (its usage), without the comment marks.
print_usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
}

# The kernel series this project checks against, and the Debian package that names the newest
# build of each in Debian 12 (bookworm's own 6.1 or bookworm-security's 6.12).
kernel_meta_package() {
    case $1 in
        6.12) echo linux-image-6.12-amd64 ;;
        6.1) echo linux-image-amd64 ;;
        *) die "unsupported kernel series '$1': use 6.12 or 6.1" ;;
    esac
}

# Compares one transcript with its committed reference; prints a unified diff when they differ.
# $1 transcript, $2 reference. Returns 0 when equal.
compare_transcript() {
    if [[ ! -f $2 ]]; then
        log "no reference transcript $2 (create it with: scripts/real-kernel/run.sh --update-expected)"
        return 1
    fi
    if diff -u --label "expected $(basename "$2")" --label "actual" "$2" "$1" >&2; then
        log "PASS $(basename "$2")"
        return 0
    fi
    log "FAIL $(basename "$2") (diff above: - real kernel, + this run)"
    return 1
}

# --- the kernel image, its headers and the sample drivers (cached per release) -----------------
# Callers set $series and $meta_package; open_kernel_work sets $release, $package_version and
# $work; they set $tmp (a scratch dir) before fetch_kernel and build_drivers.
drivers=(mtty mdpy)
with_migref=false
# The reference driver's sources (drivers/migref) and its guest-side migration helper.
migref_sources=("$REPO_ROOT/drivers/migref/migref.c" "$REPO_ROOT/drivers/migref/Kbuild" "$REPO_ROOT/tests/RealKernel/migref-migrate.c")
# What the guest needs to mount the host's root over 9p (--planner); virtio_pci is built into 6.12.
virtfs_modules=(virtio_pci 9pnet_virtio 9p)


# Prints the first "Depends:" target of $1 whose name starts with $2.
package_dependency() {
    apt-cache depends --no-recommends --no-suggests "$1" 2>/dev/null |
        awk -v prefix="$2" '$1 == "Depends:" && index($2, prefix) == 1 { print $2; exit }'
}

candidate_version() {
    apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }'
}

resolve_release() {
    local image
    image=$(package_dependency "$meta_package" linux-image-)
    if [[ -z $image ]]; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq
        image=$(package_dependency "$meta_package" linux-image-)
    fi
    [[ -n $image ]] || die "apt knows no package $meta_package: is bookworm (and bookworm-security for 6.12) in the apt sources?"
    release=${image#linux-image-}
    package_version=$(candidate_version "$image")
    [[ $release =~ ^[0-9][0-9a-z.+~-]*$ ]] || die "unexpected kernel release '$release' from $meta_package"
}

# --- download and unpack (cached) ---------------------------------------------------------------
# Runs step $1 (a function) unless its stamp says it already ran for this release.
cached() {
    if [[ -f $work/.done-$1 ]]; then return 0; fi
    "$1"
    touch "$work/.done-$1"
}

download() {
    # Success is judged by the files below; apt's warning about downloading as root is noise.
    (cd "$tmp" && apt-get download -qq "$@" 2>&1) | grep -v 'unsandboxed as root' >&2 || true
    local package
    for package in "$@"; do
        compgen -G "$tmp/${package%%=*}_*.deb" >/dev/null || die "could not download $package from the Debian mirror"
    done
}

fetch_image() {
    download "linux-image-$release=$package_version"
    local unpacked=$tmp/image
    dpkg-deb -x "$tmp"/linux-image-"$release"_*.deb "$unpacked"
    depmod -b "$unpacked" "$release"
    rm -rf "$work/image"
    mkdir -p "$work/image/modules"
    cp "$unpacked/boot/vmlinuz-$release" "$work/image/vmlinuz"
    # Keep only the modules the drivers need, decompressed, with their load order.
    take_modules "$unpacked" modules.order vfio mdev
    take_modules "$unpacked" virtfs.order "${virtfs_modules[@]}"
    rm -rf "$unpacked" "$tmp"/*.deb
}

# Copies modules $3... of the unpacked image $1, with their dependencies, decompressed, into
# image/modules/, and writes their load order to image/$2.
take_modules() {
    local unpacked=$1 order=$work/image/$2 module_paths
    shift 2
    # modprobe takes one module per call (further words are module parameters); built-in ones
    # show as "builtin", not "insmod".
    module_paths=$(for module in "$@"; do
        modprobe -d "$unpacked" -S "$release" --show-depends "$module"
    done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
    [[ -n $module_paths ]] || die "modprobe found none of the modules $* in linux-image-$release"
    : > "$order"
    local path name
    for path in $module_paths; do
        name=$(basename "$path"); name=${name%%.ko*}
        case $path in
            *.xz) xz -dc "$path" > "$work/image/modules/$name.ko" ;;
            *.ko) cp "$path" "$work/image/modules/$name.ko" ;;
            *) die "unexpected module file $path" ;;
        esac
        echo "$name" >> "$order"
    done
}

fetch_headers() {
    local headers=linux-headers-$release common kbuild
    common=$(package_dependency "$headers" "linux-headers-")
    kbuild=$(package_dependency "$headers" "linux-kbuild-")
    [[ -n $common && -n $kbuild ]] || die "cannot resolve the dependencies of $headers"
    download "$headers=$package_version" "$common" "$kbuild"
    rm -rf "$work/headers"
    mkdir -p "$work/headers"
    local deb
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$work/headers"; done
    rm -f "$tmp"/*.deb
    # The per-flavour Makefile includes the common tree by absolute path: point it at our copy.
    local makefile=$work/headers/usr/src/linux-headers-$release/Makefile
    sed -i "s|^include /usr/src/|include $work/headers/usr/src/|" "$makefile"
    grep -q "^include $work/headers/" "$makefile" || die "unexpected layout of $makefile"
}

fetch_samples() {
    local source_package=linux-source-$series
    download "$source_package=$package_version"
    rm -rf "$work/samples"
    mkdir -p "$work/samples"
    dpkg-deb --fsys-tarfile "$tmp/${source_package}"_*.deb |
        tar -x -O "./usr/src/$source_package.tar.xz" |
        tar -xJ -C "$work/samples" --strip-components=3 --wildcards \
            '*/samples/vfio-mdev/mtty.c' '*/samples/vfio-mdev/mdpy.c' '*/samples/vfio-mdev/mdpy-defs.h'
    rm -f "$tmp"/*.deb
    local file
    for file in mtty.c mdpy.c mdpy-defs.h; do
        [[ -f $work/samples/$file ]] || die "samples/vfio-mdev/$file is missing from $source_package $package_version"
    done
}

# --- build -------------------------------------------------------------------------------------
# Sets $kernel_build: the host's installed headers for this release, else our unpacked copy.
locate_headers() {
    if [[ -f /lib/modules/$release/build/Makefile ]]; then
        kernel_build=/lib/modules/$release/build
    else
        cached fetch_headers
        kernel_build=$work/headers/usr/src/linux-headers-$release
    fi
}

# The drivers built for $series: the kernel's samples, and on 6.12 our reference driver migref
# (it uses VFIO API of 6.3+: migration data size, iommufd emulated access).
choose_drivers() {
    drivers=(mtty mdpy)
    with_migref=false
    if [[ $series == 6.12 ]]; then drivers+=(migref); with_migref=true; fi
}

build_drivers() {
    local build_dir=$work/build
    rm -rf "$build_dir"
    mkdir -p "$build_dir"
    cp "$work"/samples/* "$build_dir/"
    if $with_migref; then cp "$REPO_ROOT/drivers/migref/migref.c" "$build_dir/"; fi
    echo "obj-m += ${drivers[*]/%/.o}" > "$build_dir/Kbuild"
    make -s -C "$kernel_build" M="$build_dir" modules >"$tmp/build.log" 2>&1 || {
        cat "$tmp/build.log" >&2
        die "building ${drivers[*]} for $release failed"
    }
    local expected actual driver dependency
    expected=$(modinfo -F vermagic "$work/image/modules/vfio.ko")
    for driver in "${drivers[@]}"; do
        actual=$(modinfo -F vermagic "$build_dir/$driver.ko")
        [[ $actual == "$expected" ]] || die "$driver.ko vermagic '$actual' differs from vfio.ko's '$expected'"
        for dependency in $(modinfo -F depends "$build_dir/$driver.ko" | tr ',' ' '); do
            grep -qx "$dependency" "$work/image/modules.order" ||
                die "$driver.ko needs module $dependency, which fetch_image did not take from the image"
        done
    done
    # The guest's migration helper: static, the initramfs has no C library.
    if $with_migref; then
        gcc-12 -static -O2 -Wall -Wextra -Werror -o "$build_dir/migref-migrate" \
            "$REPO_ROOT/tests/RealKernel/migref-migrate.c" 2>"$tmp/build.log" || {
            cat "$tmp/build.log" >&2
            die "building tests/RealKernel/migref-migrate.c failed (needs gcc-12 and libc6-dev)"
        }
    fi
    sources_key > "$build_dir/.sources"
    log "built ${drivers[*]} for $release; vermagic matches vfio.ko: $expected"
}

# What the cached build was made from: the driver list and the reference driver's sources, which
# change with the checkout.
sources_key() {
    { echo "${drivers[*]}"; sha256sum "${migref_sources[@]}"; } | sha256sum | awk '{ print $1 }'
}

# Builds the drivers unless the cached build was made from the same sources.
build_drivers_once() {
    if [[ -f $work/.done-build_drivers && ( ! -f $work/build/.sources || $(cat "$work/build/.sources") != "$(sources_key)" ) ]]; then
        rm -f "$work/.done-build_drivers"
    fi
    cached build_drivers
}

# Resolves the release and opens its cache $1/<release> as $work, holding its lock (fd 9) until
# the script ends: two runs for one release would race on the cache stamps.
open_kernel_work() {
    resolve_release
    choose_drivers
    work=$1/$release
    mkdir -p "$work"
    exec 9>"$work/.lock"
    flock 9
}

# Downloads and unpacks (once per release) the kernel image, the samples and, when the host has
# none installed, the headers; sets $kernel_build.
fetch_kernel() {
    # Caches made before the 9p modules were taken lack virtfs.order: take the image again.
    [[ -f $work/image/virtfs.order ]] || rm -f "$work/.done-fetch_image"
    cached fetch_image
    cached fetch_samples
    locate_headers
}
