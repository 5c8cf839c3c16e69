#!/usr/bin/env bash
# The main job on the built-in demo: builds the console migrator and plans a guest with several
# devices from a simulated source host to the better of two simulated destinations, then removes
# what it created (no root, no FUSE: libvirt test driver + in-process simulator).
# Installs missing prerequisites first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build examples/ConsoleMigrator -c Release -v quiet -nologo -clp:NoSummary >/dev/null
exec examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator demo "$@"
