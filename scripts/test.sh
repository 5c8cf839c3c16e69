#!/usr/bin/env bash
# Runs every test of the solution (unit, simulator conformance, libvirt integration).
# Installs missing prerequisites first. Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet restore Planner.sln >/dev/null || { echo "error: NuGet restore failed" >&2; exit 1; }
dotnet build Planner.sln --no-restore -c Release 2>&1 | tail -n 3
dotnet test --solution Planner.sln --no-build -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(awk '/^  succeeded: /{s=$2} END{print s+0}' "$log")
failed=$(awk '/^  failed: /{f=$2} END{print f+0}' "$log")
if ((status != 0 && failed == 0)); then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"
