# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Old against new on a busy machine: one benchmark run in each of two checkouts, interleaved.

A change's effect measured in two sessions is the change plus whatever else the machine did in
between. Here each round runs the benchmark once in the old checkout and once in the new one,
the order alternating from round to round (old new, new old, old new, ...), so a load that
drifts over the session falls on both sides alike. Each run is the checkout's own benchmark with
its own collection (its ``.venv/collections`` link), writing its own JSON file; the load average
is recorded before and after each run, since other work may share the machine. Run as root::

    bench/interleave.py --old /path/to/old-checkout --rounds 3 --out bench/results/issue24 \\
        fleet -- --hosts 1,20 --repetitions 1 --no-warmup --no-profile
    bench/interleave.py --old /path/to/old-checkout --rounds 3 --out bench/results/issue24 \\
        lab -- --sizes small,medium --repetitions 1

``fleet`` is bench/fleet_bench.py, ``lab`` bench/lab_bench.py in a sandbox world (as
bench/fleet.sh and bench/run.sh run them, without their bootstrap: both checkouts must be ready).
Prints, for each figure, the old and new medians over the rounds with their spread, and writes
them with every run's file name and load to OUT/KIND-interleaved.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(kind: str, checkout: Path, output: Path, args: list[str]) -> list[str]:
    python = str(checkout / ".venv" / "bin" / "python")
    if kind == "fleet":
        return [python, str(checkout / "bench" / "fleet_bench.py"), *args, "--output", str(output)]
    return [str(checkout / "scripts" / "sandbox"), "run", "--", python, str(checkout / "bench" / "lab_bench.py"),
            *args, "--output", str(output)]


def figures(kind: str, document: dict) -> dict[str, dict]:
    """Name -> {wall, cpu...} of one run's document: the median of its repetitions."""
    found: dict[str, dict] = {}
    if kind == "fleet":
        for entry in document["configs"]:
            for mode, phases in entry["lab"].items():
                for phase, values in phases.items():
                    found[f"{entry['hosts']:>2} hosts {mode:7} {phase}"] = {
                        "wall_s": values["median"], "controller_cpu_s": values["controller_cpu_s"] + values["ssh_cpu_s"],
                        "hosts_cpu_s": values["hosts_cpu_s"]}
            for phase, values in entry["baseline"].items():
                found[f"{entry['hosts']:>2} hosts ping    {phase}"] = {"wall_s": values["median"]}
    else:
        for size in document["sizes"]:
            name = f"{size['namespaces']}:{size['ports']}"
            for side, phases in (("shell", size["shell"]), ("role", size["role"])):
                for phase, values in phases.items():
                    found[f"{name:8} {side} {phase}"] = {"wall_s": values["median"]}
            found[f"{name:8} role peak RSS"] = {"peak_rss_mib": size["peak_rss_mib"]}
    return found


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "samples": [round(value, 4) for value in values]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old checkout")
    parser.add_argument("--new", type=Path, default=ROOT, help="the new checkout (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs' JSON files")
    parser.add_argument("kind", choices=("fleet", "lab"))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then the benchmark's own arguments")
    args = parser.parse_args(argv)
    bench_args = args.args[1:] if args.args[:1] == ["--"] else args.args
    if os.geteuid() != 0:
        print("interleave: run as root (the benchmarks create namespaces)", file=sys.stderr)
        return 2
    args.out = args.out.resolve()  # each run's working directory is its own checkout
    args.out.mkdir(parents=True, exist_ok=True)
    sides = {"old": args.old.resolve(), "new": args.new.resolve()}
    runs = []
    for number in range(args.rounds):
        for side in ("old", "new") if number % 2 == 0 else ("new", "old"):
            output = args.out / f"{args.kind}-{side}-{number + 1}.json"
            load_before = os.getloadavg()
            start = time.perf_counter()
            print(f"== round {number + 1}, {side}: {sides[side]} (load {load_before[0]:.1f})", flush=True)
            subprocess.run(command(args.kind, sides[side], output, bench_args), cwd=sides[side], check=True)
            runs.append({"round": number + 1, "side": side, "file": output.name,
                         "wall_s": round(time.perf_counter() - start, 1),
                         "load_before": [round(load, 2) for load in load_before],
                         "load_after": [round(load, 2) for load in os.getloadavg()]})
    per_side: dict[str, dict[str, dict[str, list[float]]]] = {"old": {}, "new": {}}
    for run in runs:
        document = json.loads((args.out / run["file"]).read_text())
        for name, values in figures(args.kind, document).items():
            for key, value in values.items():
                per_side[run["side"]].setdefault(name, {}).setdefault(key, []).append(value)
    summary = {side: {name: {key: spread(values) for key, values in keys.items()} for name, keys in names.items()}
               for side, names in per_side.items()}
    loads = {side: spread([run["load_before"][0] for run in runs if run["side"] == side]) for side in sides}
    document = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "kind": args.kind, "arguments": bench_args,
                "checkouts": {side: str(path) for side, path in sides.items()},
                "commits": {side: subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                                                 capture_output=True, text=True, check=False).stdout.strip()
                            for side, path in sides.items()},
                "cpus": os.cpu_count(), "order": "old new, new old, ... (alternating each round)",
                "runs": runs, "load_1min_before_runs": loads, "summary": summary}
    (args.out / f"{args.kind}-interleaved.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"{args.rounds} rounds, median [min-max] over the rounds; 1-min load before the runs: "
          f"old {loads['old']['median']:.1f} [{loads['old']['min']:.1f}-{loads['old']['max']:.1f}], "
          f"new {loads['new']['median']:.1f} [{loads['new']['min']:.1f}-{loads['new']['max']:.1f}]")
    for name in summary["new"]:
        for key, new in summary["new"][name].items():
            old = summary["old"].get(name, {}).get(key)
            if old:
                print(f"  {name:32} {key:17} old {old['median']:7.2f} [{old['min']:.2f}-{old['max']:.2f}]  "
                      f"new {new['median']:7.2f} [{new['min']:.2f}-{new['max']:.2f}]  "
                      f"{new['median'] - old['median']:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
