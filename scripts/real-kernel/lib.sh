# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts that source it
# Shared by the real-kernel scripts (sourced, not run): messages, paths, transcript checks.

REAL_KERNEL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$REAL_KERNEL_DIR/../.." && pwd)
EXPECTED_DIR=$REPO_ROOT/tests/RealKernel/expected

log() { printf 'real-kernel: %s\n' "$*" >&2; }
die() { printf 'real-kernel: error: %s\n' "$*" >&2; exit 1; }

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
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
