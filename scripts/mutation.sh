#!/usr/bin/env bash
# Mutation testing of the planner's search and provisioning (src/Planner/Planning) with Stryker.NET,
# pinned in .config/dotnet-tools.json, against tests/Planner.Tests through Microsoft.Testing.Platform.
# Not part of scripts/test.sh or CI: the whole folder takes about 26 minutes with two runners on an
# idle 2-core machine (49 with one), hours under load (see docs/testing.md).
# Writes the JSON and HTML reports to DIR (default artifacts/mutation) and prints the scores per file
# (scripts/mutation-report.py scores: raw, and without the equivalent ConfigureAwait/WhenAll mutants).
#
#   scripts/mutation.sh [DIR [FILE...]]   bounded by MUTATION_TIMEOUT (timeout(1) duration, default 4h)
#
# FILE: a file name in src/Planner/Planning (DestinationPlanner.cs) to mutate only those files (one
# chunk of the whole run; each chunk pays the analysis and build again, some 10-15 minutes).
# MUTATION_CONCURRENCY test runners (default 2).
#
# Stryker compiles mutants into the test project's build output: run it in a checkout no other
# build uses at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
output=$(realpath -m "${1:-artifacts/mutation}")
shift $(( $# > 0 ? 1 : 0 ))
mutate=()
for file in "${@:-**/*.cs}"; do
    mutate+=(--mutate "Planning/$file")
done
mkdir -p "$output"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Stryker's project analysis (Buildalyzer) gives `dotnet --info` 10 s by default, too little on a
# loaded machine ("Could not find build environment"); it does not read TargetFramework from
# Directory.Build.props, so the framework is named.
export DOTNET_INFO_WAIT_TIME=${DOTNET_INFO_WAIT_TIME:-120000}
dotnet tool restore > /dev/null
cd tests/Planner.Tests
timeout --kill-after=60s "${MUTATION_TIMEOUT:-4h}" dotnet stryker \
    --project VfioMigration.Planner.csproj \
    --test-runner mtp \
    --configuration Release \
    --target-framework net10.0 \
    "${mutate[@]}" \
    --concurrency "${MUTATION_CONCURRENCY:-2}" \
    --reporter json --reporter html --reporter progress \
    --output "$output"
python3 "$root/scripts/mutation-report.py" scores "$output/reports/mutation-report.json"
