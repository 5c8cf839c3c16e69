#!/usr/bin/env bash
# Mutation testing of the planner's search and provisioning (src/Planner/Planning) with Stryker.NET,
# pinned in .config/dotnet-tools.json, against tests/Planner.Tests through Microsoft.Testing.Platform.
# Not part of scripts/test.sh or CI: it takes hours on a 2-core machine (see docs/testing.md).
# Writes the JSON and HTML reports to DIR (default artifacts/mutation) and prints the score.
#
#   scripts/mutation.sh [DIR]        bounded by MUTATION_TIMEOUT (timeout(1) duration, default 4h)
#
# Stryker compiles mutants into the test project's build output: run it in a checkout no other
# build uses at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
output=$(realpath -m "${1:-artifacts/mutation}")
mkdir -p "$output"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore > /dev/null
cd tests/Planner.Tests
timeout --kill-after=60s "${MUTATION_TIMEOUT:-4h}" dotnet stryker \
    --project VfioMigration.Planner.csproj \
    --test-runner mtp \
    --configuration Release \
    --mutate 'Planning/**/*.cs' \
    --concurrency "${MUTATION_CONCURRENCY:-2}" \
    --reporter json --reporter html --reporter progress \
    --output "$output"
