#!/usr/bin/env bash
# Mutation testing with Stryker.NET, pinned in .config/dotnet-tools.json, through
# Microsoft.Testing.Platform: by default the planner's search and provisioning (src/Planner/Planning)
# against tests/Planner.Tests. Not part of scripts/test.sh or CI: Planning/ takes about 26 minutes
# with two runners on an idle 2-core machine (49 with one), hours under load (see docs/testing.md).
# Writes the JSON and HTML reports to DIR/reports (default artifacts/mutation) and prints the scores
# per file (scripts/mutation-report.py scores: raw, and without the equivalent ConfigureAwait/WhenAll
# mutants); `mutation-report.py folders` gives them per folder.
#
#   scripts/mutation.sh [DIR [PATTERN...]]   bounded by MUTATION_TIMEOUT (timeout(1) duration, default 4h)
#
# PATTERN: a Stryker mutate pattern relative to the project's folder (default Planning/**/*.cs; a
# leading ! excludes). A bare file name means that file of Planning/ (DestinationPlanner.cs); a
# pattern may end in {start..end} character spans of the file. The whole planner:
# scripts/mutation.sh DIR '**/*.cs'.
# MUTATION_PROJECT: planner (src/Planner with tests/Planner.Tests, the default) or simulator
# (src/HostSimulator with tests/HostSimulator.Tests; default pattern Model/**/*.cs, the model).
# MUTATION_CONCURRENCY test runners (default 2).
#
# Stryker compiles mutants into the test project's build output: run it in a checkout no other
# build uses at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
output=$(realpath -m "${1:-artifacts/mutation}")
shift $(( $# > 0 ? 1 : 0 ))
case ${MUTATION_PROJECT:-planner} in
    planner) project=VfioMigration.Planner.csproj tests=tests/Planner.Tests default=Planning/**/*.cs ;;
    simulator) project=VfioMigration.HostSimulator.csproj tests=tests/HostSimulator.Tests default=Model/**/*.cs ;;
    *) echo "MUTATION_PROJECT is planner or simulator, not '${MUTATION_PROJECT}'" >&2; exit 2 ;;
esac
mutate=()
for pattern in "${@:-$default}"; do
    [[ $pattern == */* ]] || pattern=Planning/$pattern
    mutate+=(--mutate "$pattern")
done
mkdir -p "$output"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Stryker's project analysis (Buildalyzer) gives `dotnet --info` 10 s by default, too little on a
# loaded machine ("Could not find build environment"); it does not read TargetFramework from
# Directory.Build.props, so the framework is named.
export DOTNET_INFO_WAIT_TIME=${DOTNET_INFO_WAIT_TIME:-120000}
dotnet tool restore > /dev/null
cd "$tests"
timeout --kill-after=60s "${MUTATION_TIMEOUT:-4h}" dotnet stryker \
    --project "$project" \
    --test-runner mtp \
    --configuration Release \
    --target-framework net10.0 \
    "${mutate[@]}" \
    --concurrency "${MUTATION_CONCURRENCY:-2}" \
    --reporter json --reporter html --reporter progress \
    --output "$output"
python3 "$root/scripts/mutation-report.py" scores "$output/reports/mutation-report.json"
