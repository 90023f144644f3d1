# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one task costs per host on a sandbox fleet: the candidates for the overlay's lookup.

Issue 24 chose how the role reads each host's underlay address by this: every candidate task
runs as the only task before an ``ansible.builtin.ping`` on every host of a fleet
(tools/nslab_sandbox/fleet.py) over warm SSH, and its cost is that play's CPU minus the CPU of
the same play without it (``meta: noop`` in its place), per host: the controller's (wait4 over
ansible-playbook, plus the SSH masters) and the hosts' (each sshd and its descendants), as
bench/fleet_bench.py counts them. The rounds run the candidates in turn, so drift falls on all.
Run as root::

    .venv/bin/python bench/task_cost.py --hosts 20 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))
# pylint: disable=wrong-import-position  # after the paths above
from fleet_bench import process_cpu, tree_cpu  # noqa: E402
from nslab_sandbox import World  # noqa: E402
from nslab_sandbox.fleet import Fleet  # noqa: E402
from nslab_sandbox.world import SandboxProcess, world_env  # noqa: E402

# pylint: enable=wrong-import-position

READ_ONLY = "\n      check_mode: false\n      changed_when: false"
CANDIDATES = {
    "none": "ansible.builtin.meta: noop",
    "setup": "ansible.builtin.setup:\n        gather_subset: ['!all', '!min', network]\n        filter: [ansible_default_ipv4]",
    "command": "ansible.builtin.command: ip -4 route get 8.8.8.8" + READ_ONLY,
    "ping": "ansible.builtin.ping:",
    "raw": "ansible.builtin.raw: ip -4 route get 8.8.8.8" + READ_ONLY,
    "raw_sh": ("ansible.builtin.raw: PATH=\"$PATH:/usr/sbin:/sbin\"; ip -4 route get 8.8.8.8\n      args:\n"
               "        executable: /bin/sh" + READ_ONLY),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("task_cost: run as root: the sandbox creates namespaces", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, World() as world, Fleet(world, count=args.hosts) as fleet:
        playbooks = {}
        for name, task in CANDIDATES.items():
            playbooks[name] = Path(tmp) / f"{name}.yml"
            playbooks[name].write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Candidate\n"
                                       f"      {task}\n    - name: Ping\n      ansible.builtin.ping:\n")
        inventory = fleet.inventory(str(Path(tmp) / "inventory.yml"))
        env = world_env(dict(fleet.env(), ANSIBLE_NOCOLOR="1"))

        def play(name: str) -> dict[str, float]:
            hosts_before = sum(tree_cpu(host.pid) for host in fleet.hosts)
            ssh_before = {pid: process_cpu(pid) for pid in fleet.ssh_processes()}
            argv = ["ansible-playbook", "-i", inventory, "--forks", str(args.hosts), str(playbooks[name])]
            proc = SandboxProcess(world.command(argv, "host", cwd=tmp), env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            start = time.perf_counter()
            output = proc.stdout.read()
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            if status:
                raise SystemExit(f"{name}: ansible-playbook failed:\n{output.decode(errors='replace')[-3000:]}")
            ssh = sum(process_cpu(pid) - ssh_before.get(pid, 0.0) for pid in fleet.ssh_processes())
            return {"wall": wall, "controller": usage.ru_utime + usage.ru_stime + ssh,
                    "hosts": sum(tree_cpu(host.pid) for host in fleet.hosts) - hosts_before}

        play("none")  # untimed: the SSH masters, page cache
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in CANDIDATES}
        loads = []
        for _round in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for name in CANDIDATES:
                runs[name].append(play(name))
    print(f"{args.hosts} hosts, warm SSH, {args.rounds} rounds; 1-min load before each round: "
          + ", ".join(f"{load:.1f}" for load in loads))
    print("CPU-s per host of the candidate task, median [min-max]; wall s added to the play")
    for name, samples in runs.items():
        if name == "none":
            continue
        cells = []
        for key in ("controller", "hosts"):
            values = [(run[key] - base[key]) / args.hosts for run, base in zip(samples, runs["none"])]
            cells.append(f"{key} {statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]")
        total = statistics.median((run["controller"] + run["hosts"] - base["controller"] - base["hosts"]) / args.hosts
                                  for run, base in zip(samples, runs["none"]))
        wall = statistics.median(run["wall"] - base["wall"] for run, base in zip(samples, runs["none"]))
        print(f"  {name:8} {'  '.join(cells)}  total {total:.3f}  wall +{wall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
