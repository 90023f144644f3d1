# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/lab.yml on a fleet over SSH: 1, 5, 20 hosts, with and without the overlay.

Runs from this machine as root (bench/fleet.sh puts it there): it starts a sandbox world and
a fleet of hosts in it (tools/nslab_sandbox/fleet.py: each host its own network, mount and
UTS namespace running sshd; the world's host node is the controller), and for each number of
hosts H runs ``ansible-playbook`` the way the README tells fleet users to, over SSH with
``--forks H`` and pipelining, on an inventory of the first H hosts, each with a lab of N
namespaces and P published ports in a subnet of its own (10.K.0.0/24 on host fleetK),
without and with ``lab_overlay: {vni: 42}``. The role's defaults otherwise (package check,
summary, diagram), as a user's run has them.

Each repetition times, per host count, a trivial playbook (``ansible.builtin.ping``: the
floor of any run over that fleet) with cold SSH and again right after with the connections
kept, and per overlay mode the lab's converge, no-change re-run and teardown. Every other run
starts without SSH connections (``ssh -O exit`` on each control socket): each is a user's
first run in a minute, which pays the SSH handshakes. After each build every host is checked
in the kernel (N namespaces, P published ports, the VXLAN device with one FDB entry per peer),
the re-run must report changed=0 on every host, the teardown must leave nothing. Repetitions
alternate the order of host counts and modes.

CPU: the controller's from wait4 (ansible-playbook and every process it reaped: workers, ssh
clients with their handshakes), the SSH masters' (daemons, read from /proc before they exit),
and each host's from its sshd (utime+stime+cutime+cstime of the sshd and its live
descendants: everything the host ran for Ansible). All of it shares this machine's CPUs, so
CPU/CPUs is a floor under the run's wall time here; the controller's share alone is the
floor on a real fleet, whose hosts bring their own CPUs.

A profiled round follows the timed ones: the same runs with a callback plugin that timestamps
each task and host (bench/callback_plugins), an interpreter on the hosts that meters the
module (bench/module_meter.py: payload read, module wall and CPU time, peak RSS) and a sampler
of the controller's memory (summed PSS); then the lab's payload, kept by the meter, is sent to
every host at once over SSH on its own. Its figures say where the time goes; the timed rounds,
without any of that, say how long it takes.

The sandbox has no DNS server: its hosts have a resolv.conf that refuses lookups at once
(tools/nslab_sandbox/fleet.py), as a real network answers them, instead of a 5 s timeout.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ipaddress
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(BENCH))
# pylint: disable=wrong-import-position  # after the paths above
from nslab_sandbox import World  # noqa: E402
from nslab_sandbox.fleet import LAB_PLAYBOOK, Fleet  # noqa: E402
from nslab_sandbox.world import SandboxProcess, world_env  # noqa: E402
from walkthrough import Lab  # noqa: E402

# pylint: enable=wrong-import-position

VNI = 42
DEVICE = f"nslab.{VNI}"
#: Issue 16: the run on 20 hosts takes at most twice the run on one.
TARGET_RATIO = 2.0
LAB_PHASES = ("converge", "rerun", "teardown")
#: The role's task that finds each host's underlay address for the overlay.
UNDERLAY_TASK = "Find the overlay's underlay address"
PING_PHASES = ("ping_cold", "ping_warm")
RECAP = re.compile(r"^(\S+)\s+: (ok=.*)$", re.M)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PING_PLAYBOOK = """\
# The floor of a run over the fleet: one trivial module on every host.
- name: Ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""
CHECK_SCRIPT = f"""
echo '== netns'; ip netns list
echo '== nat'; iptables-save -t nat
echo '== link'; ip -o link show dev {DEVICE} 2>/dev/null || true
echo '== fdb'; bridge fdb show dev {DEVICE} 2>/dev/null || true
echo '== end'
"""

# Run in the controller: send a payload (a file) to `cat >/dev/null` on every host at once over
# SSH with Ansible's options (a kept master per host, compression -C as Ansible's default
# ssh_args have it, and without), against the same command with nothing to send, alternating,
# ROUNDS times; print the batches' wall times as JSON. Compression is the master's: each mode
# has masters of its own.
REPLAY_SCRIPT = """
import json, subprocess, sys, threading, time
config, control, payload_path, rounds, *hosts = sys.argv[1:]
payload = open(payload_path, "rb").read()
MODES = {"compressed": ["-o", "Compression=yes"], "uncompressed": ["-o", "Compression=no"]}
def send(argv, data, failures):
    proc = subprocess.run(argv + ["cat >/dev/null"], input=data, capture_output=True, timeout=120)
    if proc.returncode:
        failures.append((argv[-1], proc.returncode, proc.stderr.decode(errors="replace")[-300:]))
def batch(mode, data):
    failures = []
    ssh = ["ssh", "-F", config, *MODES[mode], "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
           "-o", "ControlPath=%s/replay-%s-%%h" % (control, mode)]
    threads = [threading.Thread(target=send, args=(ssh + [host], data, failures)) for host in hosts]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit("replay failed: %r" % failures)
    return time.perf_counter() - start
times = {"bytes": len(payload)}
for mode in MODES:
    batch(mode, b"")
    times[mode] = {"empty": [], "payload": []}
for unused in range(int(rounds)):
    for mode in MODES:
        times[mode]["empty"].append(batch(mode, b""))
        times[mode]["payload"].append(batch(mode, payload))
print(json.dumps(times))
"""


class BenchError(RuntimeError):
    pass


def parse_hosts(text: str) -> list[int]:
    try:
        counts = sorted({int(item) for item in text.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"hosts {text!r}: use host counts like 1,5,20") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"hosts {text!r}: at least one host count, each at least 1")
    return counts


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+):(\d+)", text)
    if not match or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: use N:P (namespaces:ports per host), N >= 1")
    return int(match.group(1)), int(match.group(2))


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": [round(s, 4) for s in samples]}


def host_lab(number: int, namespaces: int, ports: int) -> dict:
    """The role's variables for host fleetNUMBER: the benchmark's lab (bench/walkthrough.py's
    namespaces and port spread) moved to a subnet of the host's own, 10.NUMBER.0.0/24 (wider
    for more than 253 namespaces), so the labs of an overlay do not overlap."""
    lab = Lab(namespaces, ports)
    subnet = ipaddress.ip_network(f"10.{number}.0.0/{lab.subnet.prefixlen}")
    shift = int(subnet.network_address) - int(lab.subnet.network_address)
    variables = lab.role_variables()
    variables["lab_subnet"] = str(subnet)
    variables["lab_gateway"] = str(ipaddress.ip_address(variables["lab_gateway"]) + shift)
    for entry in variables["lab_namespaces"]:
        entry["address"] = str(ipaddress.ip_address(entry["address"]) + shift)
    return variables


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def process_cpu(pid: int) -> float:
    """CPU seconds of *pid* and of the children it reaped (utime+stime+cutime+cstime)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """*pid* and its live descendants (through every thread's children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as handle:
                    queue.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds a process tree has used: each finished process is in a live ancestor's
    cutime/cstime once reaped, each live one counts its own."""
    return sum(process_cpu(member) for member in descendants(pid))


def _kib(pid: int, key: str, path: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{path}", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(threading.Thread):
    """Peak of the summed PSS (proportional set size: shared pages split between their
    sharers, so the sum is what the tree holds) of a process tree, every *interval* seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib, self.processes_at_peak = 0, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            members = descendants(self.pid)
            total = sum(_kib(member, "Pss:", "smaps_rollup") for member in members)
            if total > self.peak_kib:
                self.peak_kib, self.processes_at_peak = total, len(members)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class Run:
    """One ansible-playbook run and what was measured around it."""

    phase: str
    hosts: int
    overlay: bool
    started: float
    wall: float
    controller_cpu: float
    controller_maxrss_kib: int
    ssh_cpu: float
    host_cpu: float
    recap: dict[str, dict[str, int]]
    output: str
    timeline: dict | None = None
    meters: list[dict] = field(default_factory=list)
    controller_pss_peak_kib: int | None = None
    ssh_rss_kib: int | None = None

    @property
    def total_cpu(self) -> float:
        return self.controller_cpu + self.ssh_cpu + self.host_cpu


class FleetBench:
    # pylint: disable-next=too-many-arguments
    def __init__(self, world: World, fleet: Fleet, workdir: Path, size: tuple[int, int], *, cold_ssh: bool,
                 timeout: float) -> None:
        self.world, self.fleet, self.workdir = world, fleet, workdir
        self.namespaces, self.ports = size
        self.cold_ssh = cold_ssh
        self.timeout = timeout
        self.ping_playbook = workdir / "ping.yml"
        self.ping_playbook.write_text(PING_PLAYBOOK)
        self.meter_dir = workdir / "meter"
        self.meter_dir.mkdir()
        # The hosts exec this with the payload on stdin; -IS: no site, no environment, so the
        # meter's own start costs what an interpreter costs and nothing more.
        self.meter = workdir / "python-metered"
        self.meter.write_text(f"#!/bin/sh\nexec {fleet.python} -IS {BENCH / 'module_meter.py'} "
                              f"{fleet.python} {self.meter_dir} \"$@\"\n")
        self.meter.chmod(0o755)
        self.base_inventory = yaml.safe_load(Path(fleet.inventory(str(workdir / "fleet.yml"))).read_text())
        self._inventories: dict[tuple[int, bool, bool], Path] = {}
        self.checks: list[dict] = []

    # -- inventories and runs -------------------------------------------

    def names(self, hosts: int) -> list[str]:
        return [host.name for host in self.fleet.hosts[:hosts]]

    def inventory(self, hosts: int, overlay: bool, metered: bool) -> Path:
        key = (hosts, overlay, metered)
        if key not in self._inventories:
            inventory = json.loads(json.dumps(self.base_inventory))
            members = inventory["all"]["children"]["fleet"]["hosts"]
            keep = self.names(hosts)
            for name in list(members):
                if name in keep:
                    members[name].update(host_lab(int(name[len("fleet"):]), self.namespaces, self.ports))
                else:
                    del members[name]
            if overlay:
                inventory["all"]["vars"]["lab_overlay"] = {"vni": VNI}
            if metered:
                inventory["all"]["vars"]["ansible_python_interpreter"] = str(self.meter)
            path = self.workdir / f"inventory-{hosts}-{'overlay' if overlay else 'plain'}{'-metered' if metered else ''}.yml"
            path.write_text(yaml.safe_dump(inventory, sort_keys=False))
            self._inventories[key] = path
        return self._inventories[key]

    def env(self, timeline: Path | None) -> dict[str, str]:
        env = self.fleet.env()
        # The inventory sets ansible_pipelining already; said here too, as the README tells users.
        env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING="True")
        if timeline is not None:
            env.update(ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
                       ANSIBLE_CALLBACKS_ENABLED="nslab_bench_timeline", NSLAB_BENCH_TIMELINE=str(timeline))
        return world_env(env)

    def ssh_cpu(self) -> dict[int, float]:
        return {pid: process_cpu(pid) for pid in self.fleet.ssh_processes()}

    def hosts_cpu(self, hosts: int) -> float:
        return sum(tree_cpu(host.pid) for host in self.fleet.hosts[:hosts])

    def close_ssh(self) -> None:
        """End the SSH masters to the hosts: the next run connects afresh."""
        control = Path(self.fleet.control_dir)
        for socket in sorted(control.iterdir()) if control.is_dir() else []:
            subprocess.run(["ssh", "-F", "/dev/null", "-O", "exit", "-S", str(socket), "fleet-master"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
        deadline = time.monotonic() + 10
        while self.fleet.ssh_processes():
            if time.monotonic() > deadline:
                raise BenchError(f"ssh processes of the fleet still running: {self.fleet.ssh_processes()}")
            time.sleep(0.01)
        # And until each host's sshd has reaped its sessions, whose CPU is then in its cutime.
        while any(descendants(host.pid)[1:] for host in self.fleet.hosts):
            if time.monotonic() > deadline:
                raise BenchError("SSH sessions still open on the hosts: "
                                 + ", ".join(host.name for host in self.fleet.hosts if descendants(host.pid)[1:]))
            time.sleep(0.01)

    # pylint: disable-next=too-many-arguments,too-many-locals
    def play(self, phase: str, hosts: int, overlay: bool = False, *, metered: bool = False,
             expect_changed: bool | None = None) -> Run:
        playbook = str(self.ping_playbook) if phase.startswith("ping") else LAB_PLAYBOOK
        extra = ["-e", "lab_state=absent"] if phase == "teardown" else []
        argv = ["ansible-playbook", "-i", str(self.inventory(hosts, overlay, metered)), "--forks", str(hosts),
                playbook, *extra]
        timeline = self.workdir / "timeline.json" if metered else None
        if timeline is not None and timeline.exists():
            timeline.unlink()
        for record in self.meter_dir.glob("*.jsonl"):
            record.unlink()
        env = self.env(timeline)
        ssh_before = self.ssh_cpu()
        hosts_before = self.hosts_cpu(hosts)
        with tempfile.TemporaryFile() as output:
            started = time.time()
            start = time.perf_counter()
            # nsenter forks the command into the world and waits for it: wait4 on nsenter
            # covers ansible-playbook and every process it reaped.
            proc = SandboxProcess(self.world.command(argv, "host", cwd=str(self.workdir)), env=env,
                                  stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
            sampler = MemorySampler(proc.pid) if metered else None
            if sampler:
                sampler.start()
            # SIGKILL to the run's process group (nsenter's session: ansible-playbook, its
            # workers, ssh clients) when it runs too long; the wait4 below then returns.
            killer = threading.Timer(self.timeout, os.killpg, (proc.pid, signal.SIGKILL))
            killer.start()
            try:
                _pid, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
                if sampler:
                    sampler.stop()
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            output.seek(0)
            text = output.read().decode(errors="replace")
        ssh_after = self.ssh_cpu()
        ssh_rss = sum(_kib(pid, "VmRSS:") for pid in ssh_after)
        ssh_cpu = sum(cpu - ssh_before.get(pid, 0.0) for pid, cpu in ssh_after.items())
        # While the sessions live: a session that ended and is not reaped yet counts nowhere.
        host_cpu = self.hosts_cpu(hosts) - hosts_before
        if self.cold_ssh:
            self.close_ssh()
        run = Run(phase, hosts, overlay, started, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
                  ssh_cpu, host_cpu, self._recap(text), text)
        if proc.returncode != 0:
            raise BenchError(f"{phase} on {hosts} hosts{' with the overlay' if overlay else ''}: ansible-playbook "
                             f"exited {proc.returncode} (killed after {self.timeout} s if -9):\n{text[-4000:]}")
        self._check_recap(run, expect_changed)
        if metered:
            run.timeline = json.loads(timeline.read_text()) if timeline and timeline.exists() else None
            run.meters = [json.loads(line) for record in sorted(self.meter_dir.glob("*.jsonl"))
                          for line in record.read_text().splitlines() if line.strip()]
            run.controller_pss_peak_kib = sampler.peak_kib if sampler else None
            run.ssh_rss_kib = ssh_rss
        return run

    @staticmethod
    def _recap(output: str) -> dict[str, dict[str, int]]:
        return {name: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
                for name, counts in RECAP.findall(output)}

    def _check_recap(self, run: Run, expect_changed: bool | None) -> None:
        expected = self.names(run.hosts)
        where = f"{run.phase} on {run.hosts} hosts{' with the overlay' if run.overlay else ''}"
        if sorted(run.recap) != sorted(expected):
            raise BenchError(f"{where}: the recap names {sorted(run.recap)}, not {expected}:\n{run.output[-4000:]}")
        wrong = []
        for name, counts in run.recap.items():
            if counts.get("failed") or counts.get("unreachable"):
                wrong.append(f"{name} {counts}")
            elif expect_changed is not None and bool(counts.get("changed")) != expect_changed:
                wrong.append(f"{name} changed={counts.get('changed')}")
        if wrong:
            raise BenchError(f"{where}: expected changed{'>0' if expect_changed else '=0'} and no failure on every "
                             f"host: {', '.join(wrong)}\n{run.output[-4000:]}")
        if expect_changed is False:
            self.checks.append({"after": run.phase, "hosts": run.hosts, "overlay": run.overlay,
                                "hosts_ok": len(expected), "what": "changed=0"})

    # -- the kernel of each host ----------------------------------------

    def _host_state(self, name: str) -> dict:
        out = self.fleet.sh(name, CHECK_SCRIPT, timeout=60).stdout
        sections = dict(re.findall(r"== (\w+)\n(.*?)(?=\n?== )", out, re.S))
        return {
            "namespaces": len([line for line in sections.get("netns", "").splitlines() if line.strip()]),
            "ports": len(set(re.findall(r"--dport (\d+) .*-j DNAT", sections.get("nat", "")))),
            "device": bool(sections.get("link", "").strip()),
            "fdb": sorted(set(re.findall(r" dst (\S+)", sections.get("fdb", "")))),
            "fdb_entries": len([line for line in sections.get("fdb", "").splitlines() if " dst " in line]),
        }

    def _states(self, hosts: int) -> dict[str, dict]:
        names = self.names(hosts)
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
            return dict(zip(names, pool.map(self._host_state, names)))

    def check_built(self, run: Run) -> None:
        """Every host holds its whole lab, and with the overlay a VXLAN device that knows each peer once."""
        addresses = {host.name: host.address for host in self.fleet.hosts}
        problems = []
        for name, state in self._states(run.hosts).items():
            peers = sorted(addresses[other] for other in self.names(run.hosts) if other != name)
            if (state["namespaces"], state["ports"]) != (self.namespaces, self.ports):
                problems.append(f"{name}: {state['namespaces']} namespaces and {state['ports']} published ports, "
                                f"expected {self.namespaces} and {self.ports}")
            if run.overlay and not state["device"]:
                problems.append(f"{name}: no {DEVICE}")
            if run.overlay and (state["fdb"] != peers or state["fdb_entries"] != len(peers)):
                problems.append(f"{name}: {DEVICE} forwards to {state['fdb']} ({state['fdb_entries']} entries), "
                                f"expected one entry for each of {peers}")
            if not run.overlay and state["device"]:
                problems.append(f"{name}: {DEVICE} exists without the overlay")
        self._record(run, problems, "built")

    def check_gone(self, run: Run) -> None:
        problems = [f"{name}: left {state}" for name, state in self._states(run.hosts).items()
                    if state["namespaces"] or state["ports"] or state["device"]]
        self._record(run, problems, "gone")

    def _record(self, run: Run, problems: list[str], what: str) -> None:
        where = f"{run.phase} on {run.hosts} hosts{' with the overlay' if run.overlay else ''}"
        if problems:
            raise BenchError(f"after {where}: " + "; ".join(problems))
        self.checks.append({"after": run.phase, "hosts": run.hosts, "overlay": run.overlay,
                            "hosts_ok": run.hosts, "what": what})

    # -- rounds -----------------------------------------------------------

    def ping_round(self, hosts: int, metered: bool = False) -> list[Run]:
        if not self.cold_ssh:
            return [self.play("ping_warm", hosts, metered=metered)]
        # The first run opens the SSH masters; the second, right after, reuses them.
        self.cold_ssh = False
        try:
            cold = self.play("ping_cold", hosts, metered=metered)
        finally:
            self.cold_ssh = True
        return [cold, self.play("ping_warm", hosts, metered=metered)]

    def replay(self, hosts: int, module: str = "nslab.net.lab_network", rounds: int = 5) -> dict | None:
        """The payload's transfer alone: the module's payload, kept by a metered run, sent again to
        every host at once over warm SSH, against the same commands with nothing to send; the
        median of the paired differences, with SSH compression (Ansible's default) and without."""
        payload = self.meter_dir / f"payload-{module}.bin"
        if rounds < 1 or not payload.exists():
            return None
        proc = self.world.run([self.fleet.python, "-c", REPLAY_SCRIPT, self.fleet.ssh_config, self.fleet.control_dir,
                               str(payload), str(rounds), *self.names(hosts)], "host", timeout=900, check=False)
        self.close_ssh()
        if proc.returncode != 0:
            raise BenchError(f"the payload replay on {hosts} hosts failed: {proc.stderr[-2000:]}")
        times = json.loads(proc.stdout)
        result: dict = {"module": module, "payload_kib": round(times.pop("bytes") / 1024, 1), "hosts": hosts,
                        "rounds": rounds}
        for mode, batches in times.items():
            differences = [full - empty for full, empty in zip(batches["payload"], batches["empty"])]
            result[mode] = {"empty_s": summary(batches["empty"]), "payload_s": summary(batches["payload"]),
                            "transfer_s": summary(differences)}
        return result

    def lab_round(self, hosts: int, overlay: bool, metered: bool = False) -> list[Run]:
        converge = self.play("converge", hosts, overlay, metered=metered, expect_changed=True)
        self.check_built(converge)
        rerun = self.play("rerun", hosts, overlay, metered=metered, expect_changed=False)
        teardown = self.play("teardown", hosts, overlay, metered=metered, expect_changed=True)
        self.check_gone(teardown)
        return [converge, rerun, teardown]


# -- where the time went: the profiled runs ---------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"median": statistics.median(values), "max": max(values), "min": min(values)}


def profile(run: Run) -> dict:
    """Where one metered run's wall time went: see the module docstring and docs/performance.md.

    Per task: when it started, how long until its last host answered; per host of a module
    task, from the host's queuing in the controller's main process: *to_host* (the worker's
    fork, templating, action plugin, AnsiballZ payload, SSH connection and session, the remote
    shell until it forks the interpreter), *spawn* (the meter's own interpreter start, the
    instrument's cost), *transfer* (the meter's start until the end of the payload on its stdin), *module* (the real interpreter's exec to its exit: Python,
    AnsiballZ, imports, the work), *back* (the module's exit until the controller has the
    result: the output over SSH, the action plugin's summary and diagram).
    """
    timeline = run.timeline or {}
    start = run.started
    end = start + run.wall
    tasks = timeline.get("tasks") or []
    meters: dict[str, list[dict]] = {}
    for record in run.meters:
        meters.setdefault(record["host"], []).append(record)
    result: dict = {
        "wall_s": run.wall,
        "startup_s": (tasks[0]["start"] - start) if tasks else None,
        "playbook_loaded_s": (timeline["playbook_start"] - start) if timeline.get("playbook_start") else None,
        "after_last_task_s": (end - timeline["stats"]) if timeline.get("stats") else None,
        "tasks": [],
    }
    for index, task in enumerate(tasks):
        following = tasks[index + 1]["start"] if index + 1 < len(tasks) else timeline.get("stats") or end
        hosts = task["hosts"]
        entry: dict = {"name": task["name"], "action": task["action"], "s": following - task["start"],
                       "hosts": len(hosts), "statuses": sorted({h.get("status", "?") for h in hosts.values()})}
        segments: dict[str, list[float]] = {"queue": [], "host_latency": [], "to_host": [], "spawn": [],
                                            "transfer": [], "module": [], "back": []}
        cpu, rss, payload, modules = [], [], [], set()
        for name, times in hosts.items():
            if "queued" not in times or "done" not in times:
                continue
            segments["queue"].append(times["queued"] - task["start"])
            segments["host_latency"].append(times["done"] - times["queued"])
            inside = [m for m in meters.get(name, []) if times["queued"] <= m["started"] <= times["done"]]
            if len(inside) != 1:
                continue
            meter = inside[0]
            modules.add(meter["module"])
            segments["to_host"].append(meter["spawned"] - times["queued"])
            segments["spawn"].append(meter["started"] - meter["spawned"])
            segments["transfer"].append(meter["received"] - meter["started"])
            segments["module"].append(meter["finished"] - meter["launched"])
            segments["back"].append(times["done"] - meter["finished"])
            cpu.append(meter["module_user_s"] + meter["module_sys_s"])
            rss.append(meter["module_maxrss_kib"])
            payload.append(meter["payload_bytes"])
        entry["per_host_s"] = {key: _spread(values) for key, values in segments.items() if values}
        if cpu:
            entry["modules"] = sorted(m for m in modules if m)
            entry["payload_kib"] = round(statistics.median(payload) / 1024, 1)
            entry["module_cpu_s"] = {"sum": sum(cpu), "median": statistics.median(cpu), "max": max(cpu)}
            entry["module_peak_rss_mib"] = {"median": round(statistics.median(rss) / 1024, 1),
                                            "max": round(max(rss) / 1024, 1)}
            # The module runs of all hosts against the task's wall time and the machine's CPUs.
            entry["module_cpu_per_task_wall"] = sum(cpu) / entry["s"] if entry["s"] else None
        result["tasks"].append(entry)
    result["cpu_s"] = {"controller": run.controller_cpu, "ssh_masters": run.ssh_cpu, "hosts": run.host_cpu,
                       "total": run.total_cpu}
    result["cpu_utilisation"] = run.total_cpu / (run.wall * (os.cpu_count() or 1))
    result["cpu_floor_s"] = run.total_cpu / (os.cpu_count() or 1)
    result["controller_pss_peak_mib"] = round((run.controller_pss_peak_kib or 0) / 1024, 1)
    result["controller_largest_process_mib"] = round(run.controller_maxrss_kib / 1024, 1)
    result["ssh_masters_rss_mib"] = round((run.ssh_rss_kib or 0) / 1024, 1)
    return result


# -- the whole benchmark ------------------------------------------------------


def _version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "?"
    return (proc.stdout or proc.stderr).splitlines()[0].strip() if (proc.stdout or proc.stderr) else "?"


def config_key(hosts: int, overlay: bool) -> str:
    return f"{hosts}{'+overlay' if overlay else ''}"


def collect(runs: list[Run]) -> dict:
    """Medians and spreads of the timed runs of one phase, with the CPU figures.

    ``cpu_floor_s`` is the CPU that the run used over the machine's CPUs: no schedule makes
    the run shorter on this machine. ``controller_floor_s`` is the controller's share alone,
    the floor on a real fleet, whose hosts have CPUs of their own.
    """
    cpus = os.cpu_count() or 1
    walls = [run.wall for run in runs]
    return {
        **summary(walls),
        "controller_cpu_s": _median([run.controller_cpu for run in runs]),
        "ssh_cpu_s": _median([run.ssh_cpu for run in runs]),
        "hosts_cpu_s": _median([run.host_cpu for run in runs]),
        "total_cpu_s": _median([run.total_cpu for run in runs]),
        "cpu_utilisation": statistics.median(run.total_cpu / (run.wall * cpus) for run in runs),
        "cpu_floor_s": statistics.median(run.total_cpu / cpus for run in runs),
        "controller_floor_s": statistics.median((run.controller_cpu + run.ssh_cpu) / cpus for run in runs),
        "controller_largest_process_mib": round(max(run.controller_maxrss_kib for run in runs) / 1024, 1),
    }


# pylint: disable-next=too-many-locals,too-many-branches,too-many-statements
def measure(args: argparse.Namespace) -> dict:
    overlays = {"both": [False, True], "on": [True], "off": [False]}[args.overlay]
    largest = max(args.hosts)
    timed: dict[tuple[str, int, bool], list[Run]] = {}
    profiled: dict[tuple[str, int, bool], Run] = {}
    replays: dict[int, dict | None] = {}
    stages: dict = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nslab-fleet-bench-") as tmp:
        with World(iptables=args.iptables) as world:
            fleet_start = time.perf_counter()
            with Fleet(world, count=largest, start_timeout=args.start_timeout) as fleet:
                fleet_start = time.perf_counter() - fleet_start
                print(f"== fleet of {largest} hosts started in {fleet_start:.1f} s", flush=True)
                bench = FleetBench(world, fleet, Path(tmp), args.size, cold_ssh=not args.warm_ssh,
                                   timeout=args.timeout)
                bench.close_ssh()
                stage = time.perf_counter()
                if args.warmup:
                    # Untimed: page cache, .pyc files, the kernel's module loads, the ARP caches.
                    for overlay in overlays:
                        bench.lab_round(largest, overlay)
                    bench.ping_round(largest)
                stages["warmup"] = time.perf_counter() - stage
                for rep in range(args.repetitions):
                    stage = time.perf_counter()
                    counts = args.hosts if rep % 2 == 0 else list(reversed(args.hosts))
                    for hosts in counts:
                        for run in bench.ping_round(hosts):
                            timed.setdefault((run.phase, hosts, False), []).append(run)
                        for overlay in (overlays if rep % 2 == 0 else list(reversed(overlays))):
                            for run in bench.lab_round(hosts, overlay):
                                timed.setdefault((run.phase, hosts, overlay), []).append(run)
                            print(f"  rep {rep + 1}: {config_key(hosts, overlay):11} "
                                  + " ".join(f"{p} {timed[(p, hosts, overlay)][-1].wall:.2f}s" for p in LAB_PHASES),
                                  flush=True)
                    stages.setdefault("repetitions", []).append(time.perf_counter() - stage)
                stage = time.perf_counter()
                if args.profile:
                    for hosts in args.profile_hosts or args.hosts:
                        for run in bench.ping_round(hosts, metered=True):
                            profiled[(run.phase, hosts, False)] = run
                        for overlay in overlays:
                            for run in bench.lab_round(hosts, overlay, metered=True):
                                profiled[(run.phase, hosts, overlay)] = run
                        replays[hosts] = bench.replay(hosts, rounds=args.replay_rounds)
                    print("  profiled round done", flush=True)
                stages["profiled_round"] = time.perf_counter() - stage
                checks = bench.checks
    configs = []
    for hosts in args.hosts:
        entry: dict = {"hosts": hosts, "baseline": {}, "lab": {}}
        if replays.get(hosts):
            entry["payload_replay"] = replays[hosts]
        for phase in PING_PHASES:
            if (phase, hosts, False) in timed:
                entry["baseline"][phase] = collect(timed[(phase, hosts, False)])
            if (phase, hosts, False) in profiled:
                entry["baseline"].setdefault(phase, {})["profile"] = profile(profiled[(phase, hosts, False)])
        for overlay in overlays:
            mode = "overlay" if overlay else "plain"
            entry["lab"][mode] = {}
            for phase in LAB_PHASES:
                if (phase, hosts, overlay) in timed:
                    entry["lab"][mode][phase] = collect(timed[(phase, hosts, overlay)])
                if (phase, hosts, overlay) in profiled:
                    entry["lab"][mode].setdefault(phase, {})["profile"] = profile(profiled[(phase, hosts, overlay)])
        configs.append(entry)
    smallest = configs[0]
    scaling: dict = {}
    for entry in configs[1:]:
        ratios: dict = {}
        for mode, phases in entry["lab"].items():
            ratios[mode] = {phase: values["median"] / smallest["lab"][mode][phase]["median"]
                            for phase, values in phases.items() if "median" in values}
        ratios["ping"] = {phase: values["median"] / smallest["baseline"][phase]["median"]
                          for phase, values in entry["baseline"].items() if "median" in values}
        scaling[f"{entry['hosts']}/{smallest['hosts']}"] = ratios
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=False).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                    "ansible_core": _version([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "--version"]),
                    "openssh": _version(["ssh", "-V"]),
                    "load_average_at_end": [round(load, 2) for load in os.getloadavg()]},
        "settings": {"hosts": args.hosts, "namespaces": args.size[0], "ports": args.size[1],
                     "overlays": ["overlay" if overlay else "plain" for overlay in overlays],
                     "repetitions": args.repetitions, "forks": "= hosts", "pipelining": True,
                     "ssh": "warm" if args.warm_ssh else "cold (masters closed before every run)",
                     "iptables": args.iptables or "machine's",
                     "dns": "refused at once on the hosts (the sandbox has none)", "warmup": args.warmup,
                     "profiled_round": (args.profile_hosts or args.hosts) if args.profile else []},
        "fleet_start_s": round(fleet_start, 2),
        "stages_s": {name: [round(v, 1) for v in value] if isinstance(value, list) else round(value, 1)
                     for name, value in stages.items()},
        "total_s": round(time.perf_counter() - started, 1),
        "target_ratio": TARGET_RATIO,
        "configs": configs,
        "scaling": scaling,
        "checks": checks,
    }


def main_task(prof: dict) -> dict | None:
    """The run's module task: the lab's, or the ping's."""
    for task in prof["tasks"]:
        if task["action"].split(".")[-1] in ("lab_network", "ping"):
            return task
    return None


def _cell(values: dict | None) -> str:
    if not values or "median" not in values:
        return "-"
    return f"{values['median']:6.2f} [{values['min']:.2f}-{values['max']:.2f}]"


# pylint: disable-next=too-many-locals,too-many-branches
def report(document: dict) -> str:
    settings = document["settings"]
    lines = [f"Fleet: N={settings['namespaces']} P={settings['ports']} per host, forks = hosts, pipelining, "
             f"SSH {settings['ssh'].split()[0]}; {settings['repetitions']} repetitions, wall s median [min-max]"]
    header = (f"  {'hosts':>5} {'lab':8} " + " ".join(f"{p:22}" for p in LAB_PHASES)
              + "  converge: CPU s, floor = CPU/cpus s, CPU use")
    lines.append(header)
    for entry in document["configs"]:
        for mode, phases in entry["lab"].items():
            cells = " ".join(f"{_cell(phases.get(p)):22}" for p in LAB_PHASES)
            converge = phases.get("converge", {})
            if "cpu_floor_s" in converge:
                cells += (f"  ctl {converge['controller_cpu_s'] + converge['ssh_cpu_s']:5.2f} hosts "
                          f"{converge['hosts_cpu_s']:5.2f} | floor {converge['cpu_floor_s']:5.2f} ctl "
                          f"{converge['controller_floor_s']:5.2f} | {converge['cpu_utilisation']:.0%}")
            lines.append(f"  {entry['hosts']:>5} {mode:8} {cells}")
        base = entry["baseline"]
        lines.append(f"  {entry['hosts']:>5} {'ping':8} cold {_cell(base.get('ping_cold')):17} "
                     f"warm {_cell(base.get('ping_warm'))}")
    for pair, ratios in document["scaling"].items():
        parts = [f"{mode} " + ", ".join(f"{phase} {ratio:.2f}x" for phase, ratio in phases.items())
                 for mode, phases in ratios.items()]
        lines.append(f"  ratio {pair} hosts: " + "; ".join(parts))
    largest = document["configs"][-1]
    last_pair = f"{largest['hosts']}/{document['configs'][0]['hosts']}"
    if last_pair in document["scaling"]:
        verdicts = []
        for mode in largest["lab"]:
            ratio = document["scaling"][last_pair].get(mode, {}).get("converge")
            if ratio is not None:
                verdicts.append(f"{mode} {ratio:.2f}x ({'met' if ratio <= document['target_ratio'] else 'MISSED'})")
        lines.append(f"  target: converge on {largest['hosts']} hosts <= {document['target_ratio']}x the run on "
                     f"{document['configs'][0]['hosts']}: " + ", ".join(verdicts))
    profiled = [(entry["hosts"], mode, phase, values["profile"])
                for entry in document["configs"] for mode, phases in entry["lab"].items()
                for phase, values in phases.items() if "profile" in values]
    profiled += [(entry["hosts"], "ping", phase, values["profile"])
                 for entry in document["configs"] for phase, values in entry["baseline"].items()
                 if "profile" in values]
    if profiled:
        lines += ["Profiled round (one instrumented run each; s): wall = start + lookup (of the overlay's underlay address)",
                  "  + module task + other tasks + exit;",
                  "  per host of the module task, median/max: latency (queued to result) = to_host (controller, SSH,",
                  "  remote shell) + module (the interpreter's run) + the rest (meter start, payload, result back)",
                  f"  {'hosts':>5} {'run':18} {'wall':>5} {'start':>5} {'lookup':>6} {'task':>5} {'other':>5} {'exit':>5}"
                  f"  {'latency':>9} {'to_host':>9} {'module':>9}  {'modCPU':>6} {'util':>4}  RSS MiB mod/ctl"]
        for hosts, mode, phase, prof in profiled:
            task = main_task(prof) or {}
            lookup = sum(t["s"] for t in prof["tasks"] if t["name"].endswith(UNDERLAY_TASK))
            other = max(0.0, prof["wall_s"] - (prof["startup_s"] or 0) - lookup - task.get("s", 0)
                        - (prof["after_last_task_s"] or 0))

            def seg(name: str, task: dict = task) -> str:
                values = task.get("per_host_s", {}).get(name)
                return f"{values['median']:.2f}/{values['max']:.2f}" if values else "-"

            cpu = f"{task['module_cpu_s']['sum']:.2f}" if "module_cpu_s" in task else "-"
            rss = task["module_peak_rss_mib"]["max"] if "module_peak_rss_mib" in task else "-"
            lines.append(f"  {hosts:>5} {mode + ' ' + phase:18} {prof['wall_s']:5.2f} {prof['startup_s'] or 0:5.2f} "
                         f"{lookup:6.2f} {task.get('s', 0):5.2f} {other:5.2f} {prof['after_last_task_s'] or 0:5.2f}"
                         f"  {seg('host_latency'):>9} {seg('to_host'):>9} {seg('module'):>9}  {cpu:>6} "
                         f"{prof['cpu_utilisation']:4.0%}  {rss}/{prof['controller_pss_peak_mib']}")
    replays = [entry["payload_replay"] for entry in document["configs"] if entry.get("payload_replay")]
    if replays:
        lines.append("Payload alone: the lab module's payload sent to every host at once over warm SSH, minus the same "
                     "commands with nothing to send (median of paired differences [min-max])")
        for replay in replays:
            modes = ", ".join(f"{mode} {replay[mode]['transfer_s']['median'] * 1000:.0f} ms "
                              f"[{replay[mode]['transfer_s']['min'] * 1000:.0f}-{replay[mode]['transfer_s']['max'] * 1000:.0f}]"
                              for mode in ("compressed", "uncompressed") if mode in replay)
            lines.append(f"  {replay['hosts']:>5} hosts x {replay['payload_kib']} KiB: {modes}")
    stages = document.get("stages_s", {})
    lines.append(f"total {document['total_s']} s: fleet start {document['fleet_start_s']} s, warm-up "
                 f"{stages.get('warmup', 0)} s, repetitions {stages.get('repetitions', [])} s, profiled round "
                 f"{stages.get('profiled_round', 0)} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=parse_hosts, default=parse_hosts("1,5,20"),
                        help="comma-separated host counts (default 1,5,20)")
    parser.add_argument("--size", type=parse_size, default=(20, 20),
                        help="N:P, namespaces and published ports on each host (default 20:20)")
    parser.add_argument("--overlay", choices=("both", "on", "off"), default="both")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the profiled round (where the time goes)")
    parser.add_argument("--profile-hosts", type=parse_hosts, default=None,
                        help="host counts of the profiled round (default: all of --hosts)")
    parser.add_argument("--replay-rounds", type=int, default=5,
                        help="rounds of the profiled round's payload replay, 0 for none (default 5)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed first round")
    parser.add_argument("--warm-ssh", action="store_true",
                        help="keep the SSH masters between runs (default: every run connects afresh)")
    parser.add_argument("--iptables", choices=("nft", "legacy"), default=None,
                        help="the world's iptables flavour (default: this machine's)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for one ansible-playbook run")
    parser.add_argument("--start-timeout", type=float, default=120, help="seconds for the fleet's hosts to start")
    parser.add_argument("--output", default=str(BENCH / "results" / "fleet.json"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("fleet_bench: run as root (bench/fleet.sh): the sandbox creates namespaces", file=sys.stderr)
        return 2
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    if args.profile_hosts and not set(args.profile_hosts) <= set(args.hosts):
        parser.error("--profile-hosts must be among --hosts")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the worlds' finally blocks run
    document = measure(args)
    print(report(document), flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"fleet_bench: {error}", file=sys.stderr)
        sys.exit(1)
