#!/usr/bin/env bash
# The main job on the built-in demo: builds the console migrator and shows the bundled demo host
# (a libvirt test-driver host with GVT-g and NVIDIA-like mdev parents, mdevs and guests).
# Installs missing prerequisites first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build examples/ConsoleMigrator -c Release -v quiet -nologo -clp:NoSummary >/dev/null
exec examples/ConsoleMigrator/bin/Release/net10.0/vfio-migrator host --connect "test://$PWD/examples/hosts/demo-host.xml" "$@"
