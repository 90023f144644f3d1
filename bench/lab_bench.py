# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab through playbooks/lab.yml against the seeds' shell walkthrough, same lab, same run.

Runs inside a sandbox world (bench/run.sh puts it there): the world's host node is the
machine both build on. For each size N:P and each repetition, in alternating order, it
times the shell walkthrough up and down and the playbook's converge, no-change re-run and
teardown, checking after each build that the kernel holds the whole lab (a benchmark of
something that did nothing would be a fast lie). It prints medians with their spread and
the ratios role/shell, and writes everything to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from walkthrough import Lab  # noqa: E402  pylint: disable=wrong-import-position

ROOT = Path(__file__).resolve().parent.parent
NAMED_SIZES = {"small": (2, 1), "medium": (50, 100), "large": (200, 1000)}
RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
#: Targets from issue 16, as ratios to the shell walkthrough's build time at the same size
#: (issue 6 had 1.0, 0.6, 0.6 and 0.5)...
TARGETS = {(50, 100): {"converge": 0.6, "rerun": 0.5, "teardown": 0.5}, (200, 1000): {"converge": 0.2}}
#: ...and in seconds.
TARGET_SECONDS = {(2, 1): {"converge": 0.8}}


class BenchError(RuntimeError):
    pass


def parse_size(text: str) -> tuple[int, int]:
    if text in NAMED_SIZES:
        return NAMED_SIZES[text]
    match = re.fullmatch(r"(\d+):(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: use N:P (namespaces:ports) or one of {', '.join(NAMED_SIZES)}")
    return int(match.group(1)), int(match.group(2))


def timed(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[float, int, str]:
    """Run argv; return its wall time, the peak RSS (KiB) of its largest process, its output."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        # pylint: disable-next=consider-using-with  # reaped by the wait4 below
        proc = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        # wait4, not Popen.wait: its rusage is this run's alone (RUSAGE_CHILDREN would keep
        # the largest of every run so far), and ru_maxrss covers the descendants it reaped.
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])}... exited {proc.returncode} (killed after {timeout} s if -9):\n{text[-3000:]}")
    return elapsed, usage.ru_maxrss, text


class Bench:
    def __init__(self, lab: Lab, workdir: Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.up = workdir / "walkthrough-up.sh"
        self.down = workdir / "walkthrough-down.sh"
        self.up.write_text(lab.shell_up())
        self.down.write_text(lab.shell_down())
        # The role's defaults otherwise: it checks its packages (free on a ready host), prints
        # the summary and writes the diagram, as a user's run does.
        variables = dict(lab.role_variables(), lab_diagram_path=str(workdir / "lab-diagram.md"))
        self.variables = workdir / "lab.json"
        self.variables.write_text(json.dumps(variables))
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                        PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1")
        self.peak_rss_kib = 0

    def shell(self, script: Path) -> float:
        seconds, _peak, _out = timed(["bash", str(script)])
        return seconds

    def playbook(self, *extra: str, expect_changed: bool | None = None) -> float:
        argv = ["ansible-playbook", "playbooks/lab.yml", "-e", f"@{self.variables}", *extra]
        seconds, peak, output = timed(argv, env=self.env)
        self.peak_rss_kib = max(self.peak_rss_kib, peak)
        recap = RECAP.findall(output)
        if len(recap) != 1:
            raise BenchError(f"no single play recap in:\n{output[-3000:]}")
        changed = int(recap[0][1])
        if expect_changed is not None and bool(changed) != expect_changed:
            raise BenchError(f"expected changed{'>0' if expect_changed else '=0'}, got changed={changed}:\n{output[-3000:]}")
        return seconds

    def check_built(self, who: str) -> None:
        """The kernel holds N namespaces and P DNATs: whatever we timed did build the lab."""
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
        # The walkthrough DNATs each port twice (PREROUTING, OUTPUT), the role once in its own chain.
        published = set(re.findall(r"--dport (\d+) .*-j DNAT", nat))
        counted = (len(namespaces.splitlines()), len(published))
        if counted != (self.lab.namespaces, self.lab.ports):
            raise BenchError(f"after {who}: {counted[0]} namespaces and {counted[1]} published ports, "
                             f"expected {self.lab.namespaces} and {self.lab.ports}")

    def check_gone(self, who: str) -> None:
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        if namespaces.strip():
            raise BenchError(f"after {who}: namespaces left: {namespaces.split()}")

    def shell_round(self) -> dict[str, float]:
        up = self.shell(self.up)
        self.check_built("the shell walkthrough")
        down = self.shell(self.down)
        self.check_gone("the shell teardown")
        return {"up": up, "down": down}

    def role_round(self) -> dict[str, float]:
        converge = self.playbook(expect_changed=True)
        self.check_built("the playbook's converge")
        rerun = self.playbook(expect_changed=False)
        teardown = self.playbook("-e", "lab_state=absent", expect_changed=True)
        self.check_gone("the playbook's teardown")
        return {"converge": converge, "rerun": rerun, "teardown": teardown}


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": [round(s, 4) for s in samples]}


def measure(size: tuple[int, int], repetitions: int) -> dict:
    lab = Lab(*size)
    with tempfile.TemporaryDirectory(prefix=f"nslab-bench-{size[0]}-{size[1]}-") as tmp:
        bench = Bench(lab, Path(tmp))
        # One untimed round of each first: page cache, .pyc files, the kernel's module loads.
        bench.shell_round()
        bench.role_round()
        bench.peak_rss_kib = 0
        shell: dict[str, list[float]] = {"up": [], "down": []}
        role: dict[str, list[float]] = {"converge": [], "rerun": [], "teardown": []}
        for rep in range(repetitions):
            rounds = (bench.shell_round, bench.role_round) if rep % 2 == 0 else (bench.role_round, bench.shell_round)
            for one_round in rounds:
                for phase, seconds in one_round().items():
                    (shell if phase in shell else role)[phase].append(seconds)
        peak = bench.peak_rss_kib
    shell_up = statistics.median(shell["up"])
    shell_down = statistics.median(shell["down"])
    result = {
        "namespaces": size[0], "ports": size[1], "repetitions": repetitions,
        "shell": {phase: summary(s) for phase, s in shell.items()},
        "role": {phase: summary(s) for phase, s in role.items()},
        # The targets compare every phase with the shell's build time; the teardown
        # is also worth seeing against the shell's own teardown.
        "ratio_to_shell_up": {phase: statistics.median(s) / shell_up for phase, s in role.items()},
        "teardown_to_shell_down": statistics.median(role["teardown"]) / shell_down,
        "peak_rss_mib": round(peak / 1024, 1),
        "targets": TARGETS.get(size, {}),
        "target_seconds": TARGET_SECONDS.get(size, {}),
    }
    return result


def fit_slopes(results: list[dict]) -> dict | None:
    """Least squares t = a + b*N + c*P per phase, with the worst relative residual."""
    points = {(r["namespaces"], r["ports"]) for r in results}
    if len(points) < 4:
        return None
    fits = {}
    for side, phases in (("shell", ("up", "down")), ("role", ("converge", "rerun", "teardown"))):
        for phase in phases:
            rows = [(1.0, r["namespaces"], r["ports"], r[side][phase]["median"]) for r in results]
            coefficients = _least_squares([row[:3] for row in rows], [row[3] for row in rows])
            residuals = [abs(sum(c * x for c, x in zip(coefficients, row[:3])) - row[3]) / row[3] for row in rows]
            fits[f"{side} {phase}"] = {"fixed_s": coefficients[0], "per_namespace_ms": coefficients[1] * 1000,
                                       "per_port_ms": coefficients[2] * 1000, "worst_residual": max(residuals)}
    return fits


def _least_squares(x: list[tuple[float, ...]], y: list[float]) -> list[float]:
    """Solve the normal equations (three unknowns: no numpy needed)."""
    n = len(x[0])
    a = [[sum(row[i] * row[j] for row in x) for j in range(n)] for i in range(n)]
    b = [sum(row[i] * value for row, value in zip(x, y)) for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
                b[r] -= f * b[col]
    return [b[i] / a[i][i] for i in range(n)]


def report(result: dict) -> str:
    n, p = result["namespaces"], result["ports"]
    lines = [f"N={n} P={p} ({result['repetitions']} repetitions, median [min-max] s)"]
    for side in ("shell", "role"):
        for phase, s in result[side].items():
            line = f"  {side:5} {phase:9} {s['median']:7.3f} [{s['min']:.3f}-{s['max']:.3f}]"
            if side == "role":
                ratio = result["ratio_to_shell_up"][phase]
                target = result["targets"].get(phase)
                line += f"   {ratio:5.2f}x shell up" + (f" (target <= {target}x: {'met' if ratio <= target else 'MISSED'})"
                                                        if target else "")
                seconds = result.get("target_seconds", {}).get(phase)
                if seconds:
                    line += f" (target <= {seconds} s: {'met' if s['median'] <= seconds else 'MISSED'})"
            lines.append(line)
    lines.append(f"  role teardown / shell down: {result['teardown_to_shell_down']:.2f}x;"
                 f" peak RSS of the largest Ansible process: {result['peak_rss_mib']} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large",
                        help="comma-separated N:P or small (2:1), medium (50:100), large (200:1000)")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args(argv)
    if not os.environ.get("NSLAB_WORLD"):
        print("lab_bench: run me through bench/run.sh (inside a sandbox world)", file=sys.stderr)
        return 2
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        print(f"== N={size[0]} P={size[1]}", flush=True)
        results.append(measure(size, args.repetitions))
        print(report(results[-1]), flush=True)
    slopes = fit_slopes(results)
    if slopes:
        print("== linear fit t = fixed + N*per_namespace + P*per_port")
        for name, fit in slopes.items():
            print(f"  {name:14} fixed {fit['fixed_s']:.3f} s, {fit['per_namespace_ms']:.2f} ms/namespace, "
                  f"{fit['per_port_ms']:.2f} ms/port, worst residual {fit['worst_residual']:.0%}")
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=False).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "sizes": results,
        "linear_fit": slopes,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"lab_bench: {error}", file=sys.stderr)
        sys.exit(1)
