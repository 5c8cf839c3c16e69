#!/usr/bin/env bash
# Boots Debian 12's stock kernel under qemu (software emulation, no KVM), loads the kernel's
# sample mdev drivers mtty and mdpy and this project's reference driver migref (drivers/migref),
# all built out of tree for that kernel, runs sysfs-ops.sh against the real /sys inside the guest
# and compares the transcripts with the references in tests/RealKernel/expected/.
#
# Usage: scripts/real-kernel/run.sh [--kernel 6.12|6.1] [--work-dir DIR] [--boot-timeout S]
#                                   [--update-expected | --planner]
#   --kernel           kernel series (default 6.12)
#   --work-dir         cache of downloads and builds (default /var/tmp/vfio-real-kernel)
#   --boot-timeout     seconds the guest gets to power off (default 120, 900 with --planner)
#   --update-expected  write this run's transcripts as the new references instead of comparing
#   --planner          instead of the transcripts, run the console migrator's planner inside the
#                      guest against the real mtty (planner-ops.sh; needs the built example
#                      examples/ConsoleMigrator/bin/Release/net10.0): the host's root is shared
#                      read-only over 9p and the guest runs the host's dotnet in a chroot; on 6.12
#                      then `vfio-migrator economy` against the real migref (probe counts)
#
# Installs missing tools from Debian's packages (needs root then). The kernel image, headers and
# source are only downloaded and unpacked into the work dir, never installed: installing
# linux-headers-6.12.* would pull in the image and build an initramfs for the host.
# Prints "real-kernel: timings ..." and ends with "N passed, N failed"; exits non-zero on any
# failure, after printing the guest's console log when the guest was booted.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

series=6.12
work_root=/var/tmp/vfio-real-kernel
update_expected=false
planner=false
boot_timeout=
while (($#)); do
    case $1 in
        --kernel) series=${2:?--kernel needs 6.12 or 6.1}; shift 2 ;;
        --work-dir) work_root=${2:?--work-dir needs a directory}; shift 2 ;;
        --boot-timeout) boot_timeout=${2:?--boot-timeout needs seconds}; shift 2 ;;
        --update-expected) update_expected=true; shift ;;
        --planner) planner=true; shift ;;
        -h | --help) print_usage "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
# The work dir ends up in a Makefile include and on make's command line: absolute, no blanks.
[[ $work_root =~ ^[^[:space:]|]+$ ]] || die "--work-dir '$work_root' must not contain blanks or '|'"
mkdir -p "$work_root" && work_root=$(cd "$work_root" && pwd)
# Each dotnet start in the guest costs seconds of emulation, tens of them on a loaded host.
if [[ -z $boot_timeout ]]; then
    if $planner; then boot_timeout=900; else boot_timeout=120; fi
fi
[[ $boot_timeout =~ ^[1-9][0-9]*$ ]] || die "--boot-timeout needs a whole number of seconds, not '$boot_timeout'"
meta_package=$(kernel_meta_package "$series")
# Each driver runs alone; the kernel's samples also run together (transcript mtty-mdpy). The
# drivers built (lib.sh's choose_drivers) include the reference driver migref on 6.12.
samples=(mtty mdpy)
# The reference driver runs as "driver branch" 2.1, which also loads 2.0's state.
migref_params="version=2.1 accepts=2.0,2.1"
started=$(date +%s)

# --- tools -------------------------------------------------------------------------------------
ensure_tools() {
    ensure_kernel_build_tools
    ensure_debian_packages qemu-system-x86 busybox-static cpio
}
# --- initramfs and boot ------------------------------------------------------------------------
make_initramfs() {
    local staging=$tmp/initramfs
    mkdir -p "$staging"/{bin,dev,proc,sys,tmp,modules}
    cp /bin/busybox "$staging/bin/busybox"
    cp "$REAL_KERNEL_DIR/guest-init.sh" "$staging/init"
    cp "$REAL_KERNEL_DIR/sysfs-ops.sh" "$staging/sysfs-ops.sh"
    if $with_migref; then
        cp "$REAL_KERNEL_DIR/migref-migrations.sh" "$staging/migref-migrations.sh"
        cp "$work/build/migref-migrate" "$staging/migref-migrate"
    fi
    chmod 755 "$staging/init"
    cp "$work"/image/modules/*.ko "$staging/modules/"
    cp "$work/image/modules.order" "$work/image/virtfs.order" "$staging/"
    local driver
    for driver in "${drivers[@]}"; do cp "$work/build/$driver.ko" "$staging/modules/"; done
    echo "${drivers[*]}" > "$staging/drivers"
    echo "${samples[*]}" > "$staging/together"
    echo "migref $migref_params" > "$staging/params"
    # Its presence switches the guest to the planner run; the paths are the host's, seen in the chroot.
    if $planner; then
        printf 'repo=%s\ngenerated_host=%s\nmigref_host=%s\n' "$REPO_ROOT" "$tmp/generated-host.xml" "$tmp/migref-host.xml" > "$staging/planner.env"
    fi
    (cd "$staging" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$tmp/initramfs.cpio.gz"
}

boot() {
    console=$tmp/console.log
    results=$tmp/results.txt
    local status=0 extra=() memory=1024
    if $planner; then
        # The guest runs the host's dotnet from the host's root, shared read-only; multidevs=remap
        # keeps inode numbers unique across the host's file systems (CoreCLR fails without it).
        extra=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
        memory=2048
    fi
    timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
        -machine q35,accel=tcg -cpu max -m "$memory" -smp 2 -nographic -no-reboot "${extra[@]}" \
        -kernel "$work/image/vmlinuz" -initrd "$tmp/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet panic=-1" \
        -nic none -serial mon:stdio -serial "file:$results" \
        </dev/null >"$console" 2>&1 || status=$?
    if ((status == 124 || status == 137)); then
        fail_with_console "the guest did not power off within ${boot_timeout} s"
    elif ((status != 0)); then
        fail_with_console "qemu exited with status $status"
    fi
    tr -d '\r' < "$results" > "$results.clean"
    grep -q '^@@done status=0$' "$results.clean" || fail_with_console "the guest's test run did not finish cleanly"
}

fail_with_console() {
    log "$1"
    print_console_log guest "${console:-}"
    [[ -f ${results:-} ]] && { log "guest results channel:"; tr -d '\r' < "$results" >&2; }
    exit 1
}

# Splits the results channel into one transcript per run and checks each.
check_transcripts() {
    local out=$work/transcripts name status
    rm -rf "$out"
    mkdir -p "$out"
    awk -v out="$out" -v series="$series" '
        /^@@begin / { name = $2; file = out "/" name "-" series ".txt"; printf "" > file; next }
        /^@@end / { print $2, $3 > (out "/status"); name = ""; next }
        name != "" { print >> file }
    ' "$results.clean"
    passed=0 failed=0
    while read -r name status; do
        local transcript=$out/$name-$series.txt
        if [[ $status != status=0 ]]; then
            log "FAIL $name: sysfs-ops.sh ended with $status in the guest (see its transcript $transcript)"
            failed=$((failed + 1))
        elif $update_expected; then
            mkdir -p "$EXPECTED_DIR"
            cp "$transcript" "$EXPECTED_DIR/"
            log "wrote $EXPECTED_DIR/$(basename "$transcript")"
            passed=$((passed + 1))
        elif compare_transcript "$transcript" "$EXPECTED_DIR/$(basename "$transcript")"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done < "$out/status"
    ((passed + failed > 0)) || fail_with_console "the guest produced no transcript"
    if ((failed > 0)); then
        log "guest console log of the failed run:"
        tr -d '\r' < "$console" >&2
    fi
}

# --- planner checks (--planner) ------------------------------------------------------------------
migrator_app=$REPO_ROOT/examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator.dll

# The guest runs the host's dotnet and the built example; the generated host files (of mtty.json
# and migref.json) are made here, where dotnet starts in a fraction of the guest's time.
prepare_planner() {
    command -v dotnet >/dev/null || die "--planner runs the host's dotnet in the guest, and there is none on PATH"
    [[ -f $migrator_app ]] || die "--planner needs the built console migrator $migrator_app: run 'dotnet build examples/ConsoleMigrator -c Release'"
    ensure_debian_packages jq
    local scenario
    for scenario in mtty migref; do
        dotnet "$migrator_app" sim libvirt-xml "$REPO_ROOT/examples/scenarios/$scenario.json" "$tmp/$scenario-host.xml" >/dev/null ||
            die "vfio-migrator sim libvirt-xml failed for examples/scenarios/$scenario.json"
    done
    mv "$tmp/mtty-host.xml" "$tmp/generated-host.xml"
}

# The value of record "step $1 $2=..." of the planner run.
planner_record() {
    sed -n "s/^step $1 $2=//p" "$work/planner.txt"
}

# Checks one step: $1 name, $2 expected exit status, $3 a jq filter the plan JSON must satisfy
# (true/false), $4 what the filter demands. Every step must leave the kernel's mdevs as it found them.
check_plan_step() {
    local name=$1 expected_exit=$2 filter=$3 demand=$4 exit before after json problems=()
    exit=$(planner_record "$name" exit)
    before=$(planner_record "$name" before)
    after=$(planner_record "$name" after)
    json=$(planner_record "$name" json)
    [[ -n $exit ]] || problems+=("the step did not run")
    [[ $exit == "$expected_exit" ]] || problems+=("exit status ${exit:-none}, expected $expected_exit")
    [[ $before == "$after" ]] || problems+=("mdevs before [$before], after [$after]: the plan left the kernel changed")
    [[ $(jq -r "$filter" <<< "${json:-null}" 2>/dev/null) == true ]] || problems+=("the plan JSON does not show $demand")
    if ((${#problems[@]} == 0)); then
        log "PASS planner $name ($(jq -r '"elapsedMs=\(.stats.elapsedMs) creates=\(.stats.creates) removes=\(.stats.removes)"' <<< "$json"))"
        return 0
    fi
    log "FAIL planner $name: $(IFS=';'; echo "${problems[*]}")"
    log "  plan: ${json:-none}"
    return 1
}

# The counts `vfio-migrator economy` must report on the real migref (version=2.1 accepts=2.0,2.1,
# four idle migref-small): exactly those the simulator gives (tests/ConsoleMigrator.Tests'
# EconomyCommandTests; docs/reference-driver.md). Write and ask asks each (parent, source version)
# at most once and reads one answer per question.
expected_economy="accepted write-and-ask complete=true writes=3 questions=2 answers=2 pairs=2 most=1 probes=5|\
accepted write-and-test complete=true writes=4 questions=0 answers=0 pairs=0 most=0 probes=4|\
accepted exhaustive complete=true writes=6 questions=0 answers=0 pairs=0 most=0 probes=null|\
refused write-and-ask complete=false writes=0 questions=1 answers=1 pairs=1 most=1 probes=1|\
refused write-and-test complete=false writes=5 questions=0 answers=0 pairs=0 most=0 probes=5|\
refused exhaustive complete=false writes=6 questions=0 answers=0 pairs=0 most=0 probes=null"

check_economy() {
    local exit before after json counts problems=()
    exit=$(planner_record economy exit)
    before=$(planner_record economy before)
    after=$(planner_record economy after)
    json=$(planner_record economy json)
    counts=$(jq -r '[.guests[] | .guest as $g | .strategies[] | "\($g) \(.strategy) complete=\(.complete) writes=\(.versionWrites) questions=\(.questions) answers=\(.answerReads) pairs=\(.parentVersionPairs) most=\(.mostQuestionsPerPair) probes=\(.plannerProbes)"] | join("|")' <<< "${json:-null}" 2>/dev/null)
    [[ $exit == 0 ]] || problems+=("exit status ${exit:-none}, expected 0")
    [[ -n $before && $before == "$after" ]] || problems+=("mdevs before [$before], after [$after]: economy left the kernel changed")
    [[ -z $(planner_record migref-final after) ]] || problems+=("migref mdevs left at the end: $(planner_record migref-final after)")
    [[ $counts == "$expected_economy" ]] || problems+=("counts [$counts], expected [$expected_economy]")
    if ((${#problems[@]} == 0)); then
        log "PASS planner economy (migref): $counts"
        return 0
    fi
    log "FAIL planner economy: $(IFS=';'; echo "${problems[*]}")"
    return 1
}

# Runs a check ($@) and counts it as passed or failed.
counted() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

check_planner() {
    awk '/^@@begin planner$/ { on = 1; next } /^@@end planner / { on = 0 } on' "$results.clean" > "$work/planner.txt"
    grep -q '^@@end planner status=0$' "$results.clean" || fail_with_console "planner-ops.sh did not finish cleanly in the guest"
    passed=0 failed=0
    local unverified_only='.devices | length > 0 and all(.action == "create" and .verification == "unverified")'
    counted check_plan_step default-policy 3 \
        '.ok == false and (.rejections | length > 0) and all(.rejections[]; .code == "NOT_MIGRATABLE" and (.message | contains("migration_version")))' \
        "every device rejected NOT_MIGRATABLE for want of a migration_version"
    counted check_plan_step allow-type-match 0 \
        ".ok == true and ($unverified_only) and .stats.creates == (.devices | length)" \
        "every device created through sysfs and marked unverified"
    # The planner writes the three creates without re-reading available_instances (one batch): two
    # mtty-2 fit the 4 ports left, the driver refuses the third with its ENOSPC (the transcript
    # check requires that ENOSPC too, in tests/RealKernel/expected/mtty-*.txt), and both are removed.
    counted check_plan_step exhausted 3 \
        '.ok == false and .stats.creates == 2 and .stats.removes == 2 and ([.rejections[] | select(.code == "NO_CAPACITY" and .errno == "ENOSPC" and (.message | contains("no instances left")))] | length > 0)' \
        "two mtty-2 created, the third refused NO_CAPACITY by the driver's ENOSPC, both removed"
    counted check_plan_step mixed-types \
        0 ".ok == true and ($unverified_only)" "both types created on the one mtty parent"
    counted check_plan_step generated-host 0 \
        ".ok == true and ($unverified_only) and .stats.creates == (.devices | length) and all(.devices[]; .target.parent == \"mtty\" and (.note | contains(\"not listed by libvirt\"))) and all(.created[]; .method == \"sysfs\")" \
        "every device created through sysfs on the mtty parent found in sysfs, not listed by libvirt"
    if $with_migref; then counted check_economy; fi
    local initial final
    initial=$(planner_record initial before)
    final=$(planner_record final after)
    if grep -q '^step final after=' "$work/planner.txt" && [[ $initial == "$final" ]]; then
        log "PASS planner cleanup: the kernel ends with the mdevs it started with [$initial]"
        passed=$((passed + 1))
    else
        log "FAIL planner cleanup: mdevs at the start [$initial], at the end [$final]"
        failed=$((failed + 1))
    fi
    if ((failed > 0)); then
        log "guest console log of the failed run:"
        tr -d '\r' < "$console" >&2
    fi
}

main() {
    ensure_tools
    open_kernel_work "$work_root"
    tmp=$(mktemp -d "$work_root/run.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    log "kernel $release (Debian $package_version), work dir $work"

    local t0 t1 t2 t3 t4
    t0=$(date +%s)
    fetch_kernel
    t1=$(date +%s)
    build_drivers_once
    t2=$(date +%s)
    if $planner; then prepare_planner; fi
    make_initramfs
    t3=$(date +%s)
    boot
    t4=$(date +%s)
    local guest_up guest_done planner_timings=
    if $planner; then
        check_planner
        local planner_start steps
        planner_start=$(tr -d '\r' < "$console" | sed -n 's/^.*real-kernel: planner starts at \([0-9.]*\) s$/\1/p')
        # Per plan: the dotnet process's wall time and the plan's own stats.elapsedMs.
        steps=$(awk '/^step [^ ]* wall-ms=/ { split($3, w, "="); wall[$2] = w[2] }
                     /^step [^ ]* json=/ { if (match($0, /"elapsedMs":[0-9]+/)) printf "%s %sms/%sms, ", $2, wall[$2], substr($0, RSTART + 12, RLENGTH - 12); else printf "%s %sms, ", $2, wall[$2] }' "$work/planner.txt")
        planner_timings=" (planner from ${planner_start:-?}s; process/plan: ${steps%, })"
    else
        check_transcripts
    fi
    guest_up=$(tr -d '\r' < "$console" | sed -n 's/^.*real-kernel: userspace up at \([0-9.]*\) s$/\1/p')
    guest_done=$(tr -d '\r' < "$console" | sed -n 's/^.*real-kernel: guest done at \([0-9.]*\) s$/\1/p')
    log "timings download+unpack=$((t1 - t0))s build=$((t2 - t1))s initramfs=$((t3 - t2))s boot=$((t4 - t3))s (guest: userspace at ${guest_up:-?}s, done at ${guest_done:-?}s)$planner_timings total=$(($(date +%s) - started))s"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main
