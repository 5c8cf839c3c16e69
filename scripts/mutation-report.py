#!/usr/bin/env python3
"""Reads Stryker.NET JSON reports of scripts/mutation.sh (docs/testing.md, "Mutation testing").

  mutation-report.py scores REPORT [RERUN]   per file: killed, timeout, survived, no coverage, score,
                                             then the undetected that are ASYNC (below) and the score
                                             without them; with RERUN, the statuses of the mutants
                                             RERUN tested replace REPORT's (a re-run of the undetected)
  mutation-report.py folders REPORT...      the same per folder of the project (src/X/FOLDER/...; files
                                             at its top level as "(top level)"), over several reports
                                             (runs of different parts; a mutant tested in a later
                                             report replaces an earlier one's)
  mutation-report.py undetected REPORT [RERUN]  every survivor and uncovered mutant, one a line
                                             (ASYNC ones marked)
  mutation-report.py spans REPORT FILE...    FILE{start..end}... : the character spans of the lines
                                             of FILE's undetected mutants, to pass to mutation.sh

ASYNC: a `ConfigureAwait(false)` made `true`, or an `await Task.WhenAll(...)` removed. Both are
equivalent in this library (docs/testing.md): no caller has a SynchronizationContext, and every task
a WhenAll waits for is awaited on its own right after. They are recognised from the report's own
source text, not by line number.
"""
import functools
import json
import sys

TESTED = ("Killed", "Timeout", "Survived", "NoCoverage")
UNDETECTED = ("Survived", "NoCoverage")


def key(mutant):
    loc = mutant["location"]
    return (mutant["mutatorName"], mutant.get("replacement"), loc["start"]["line"], loc["start"]["column"], loc["end"]["line"], loc["end"]["column"])


def load(path, rerun=None):
    report = json.load(open(path, encoding="utf-8"))
    if rerun:
        again = json.load(open(rerun, encoding="utf-8"))["files"]
        for name, file in report["files"].items():
            tested = {key(m): m["status"] for m in again.get(name, {}).get("mutants", []) if m["status"] in TESTED}
            for mutant in file["mutants"]:
                mutant["status"] = tested.get(key(mutant), mutant["status"])
    return report["files"]


@functools.lru_cache(maxsize=None)
def line_starts(source):
    """The offset of each line of a report's source (a file's lines are read once, not once a mutant)."""
    starts = [0]
    for line in source.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    return starts


def mutated_text(file, mutant):
    starts = line_starts(file["source"])
    start, end = mutant["location"]["start"], mutant["location"]["end"]
    a = starts[start["line"] - 1] + start["column"] - 1
    return file["source"][a - len("ConfigureAwait("):a], file["source"][a:starts[end["line"] - 1] + end["column"] - 1]


def is_async_equivalent(file, mutant):
    before, text = mutated_text(file, mutant)
    return (text == "false" and before == "ConfigureAwait(") or text.lstrip().startswith("await Task.WhenAll(")


def short(name):
    """The path inside the project (src/X/...)."""
    return name.split("/src/", 1)[-1].split("/", 1)[-1]


def folder(name):
    inside = short(name)
    return inside.split("/", 1)[0] if "/" in inside else "(top level)"


def counts(file, mutants):
    """Killed, timeout, survived and no coverage among MUTANTS of FILE, and the undetected ASYNC ones."""
    c = {s: sum(m["status"] == s for m in mutants) for s in TESTED}
    c["async"] = sum(m["status"] in UNDETECTED and is_async_equivalent(file, m) for m in mutants)
    return c


def table(heading, rows):
    """ROWS: (name, counts) pairs; those with a tested mutant, then their total."""
    print(f"| {heading} | killed / timeout / survived / no coverage | score | undetected ASYNC | score without them |")
    print("| --- | --- | ---: | ---: | ---: |")
    total = dict.fromkeys(TESTED + ("async",), 0)
    for name, c in rows:
        if sum(c[s] for s in TESTED):
            total = {s: total[s] + c[s] for s in total}
            print(row(name, c))
    print(row("total", total))


def scores(files):
    table("file", [(short(name), counts(file, file["mutants"])) for name, file in sorted(files.items())])


def folders(reports):
    merged = {}
    for report in reports:
        for name, file in load(report).items():
            tested = [m for m in file["mutants"] if m["status"] in TESTED]
            if tested:
                mutants = merged.setdefault(name, {"source": file["source"], "mutants": {}})["mutants"]
                mutants.update({key(m): m for m in tested})
    per_folder = {}
    for name, file in merged.items():
        c = counts(file, list(file["mutants"].values()))
        per_folder[folder(name)] = {s: per_folder.get(folder(name), {}).get(s, 0) + c[s] for s in c}
    table("folder", sorted(per_folder.items()))


def row(name, c):
    detected, tested = c["Killed"] + c["Timeout"], sum(c[s] for s in TESTED)
    return (f"| {name} | {c['Killed']} / {c['Timeout']} / {c['Survived']} / {c['NoCoverage']} | {100 * detected / tested:.2f} % "
            f"| {c['async']} | {100 * detected / (tested - c['async']):.2f} % |")


def undetected(files):
    for name, file in sorted(files.items()):
        for m in sorted(file["mutants"], key=lambda m: (m["location"]["start"]["line"], m["id"])):
            if m["status"] in UNDETECTED:
                mark = " ASYNC" if is_async_equivalent(file, m) else ""
                print(f"{short(name)}:{m['location']['start']['line']} {m['id']} {m['status']}{mark} {m['mutatorName']}: {m.get('replacement', '')[:90]!r}")


def spans(files, wanted):
    for want in wanted:
        name = next(n for n in files if n.endswith("/Planning/" + want))
        text = open(name, encoding="utf-8-sig").read()
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        lines = sorted((starts[m["location"]["start"]["line"] - 1], starts[m["location"]["end"]["line"]] - 1 if m["location"]["end"]["line"] < len(starts) else len(text))
                       for m in files[name]["mutants"] if m["status"] in UNDETECTED)
        merged = []
        for start, end in lines:
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        print(want + "".join(f"{{{start}..{end}}}" for start, end in merged))


if __name__ == "__main__":
    command, report, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "spans":
        spans(load(report), rest)
    elif command == "folders":
        folders([report] + rest)
    elif command in ("scores", "undetected"):
        (scores if command == "scores" else undetected)(load(report, rest[0] if rest else None))
    else:
        sys.exit(__doc__)
