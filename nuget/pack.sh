#!/usr/bin/env bash
# Packs VfioMigration.LibvirtInterop, VfioMigration.Planner, VfioMigration.HostSimulator,
# VfioMigration.RemoteHosts and VfioMigration.Etcd in Release into OUTDIR (default artifacts/packages): one .nupkg and one .snupkg each;
# and the console as a .NET tool, VfioMigration.Console (command vfio-migrator; .nupkg only).
#
#   nuget/pack.sh [OUTDIR] [dotnet pack options...]
#
# Options after OUTDIR go to `dotnet pack` as they are, e.g. -p:VersionSuffix=rc.1 or
# --artifacts-path DIR (build in DIR instead of the projects' bin/ and obj/).
# CI=true makes the build deterministic (ContinuousIntegrationBuild).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-$repo/artifacts/packages}
shift $(($# > 0 ? 1 : 0))
case $outdir in
  -*) echo "pack.sh: OUTDIR must come first, got option '$outdir'. Usage: nuget/pack.sh [OUTDIR] [dotnet pack options...]" >&2; exit 2 ;;
esac
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# packages.slnf names the six projects: one build, one restore, packed together.
dotnet pack "$repo/nuget/packages.slnf" -c Release -o "$outdir" -nologo -v quiet "$@"
ls -l "$outdir"/VfioMigration.*.nupkg "$outdir"/VfioMigration.*.snupkg
