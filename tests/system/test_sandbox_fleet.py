# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox fleet: hosts that Ansible reaches over real SSH from the world's host node.

Multi-host playbooks are tested on a fleet, so these tests prove it is what it
claims to be: each host answers over SSH, the forks really run at once, every
host has namespaces and a /run of its own and the world's iptables flavour,
hosts come and go on demand, and a stopped fleet leaves no process and no SSH
master behind (a master left over would run a later fleet's modules in a dead
host).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nslab_sandbox import INTERNET_ADDRESS, OTHER_ADDRESS, World
from nslab_sandbox.fleet import LAB_PLAYBOOK, Fleet
from nslab_sandbox.iptables_flavour import FLAVOURS

pytestmark = pytest.mark.system

VERSION_MARKERS = {"nft": "(nf_tables)", "legacy": "(legacy)"}
# What ad hoc `ansible` prints (the minimal callback) before each host's result: a command's
# "fleet1 | CHANGED | rc=0 >>" and its output, or another module's "fleet1 | SUCCESS => {JSON}".
RESULT_HEADER = re.compile(r"^(\S+) \| ([A-Z]+)!?(?: \| rc=(-?\d+) >>$| => )", re.M)
TCP_PROBE = ("import socket, sys\n"
             "try:\n"
             "    socket.create_connection((sys.argv[1], 22), timeout=2).close()\n"
             "except OSError as error:\n"
             "    sys.exit(f'no connection: {error}')\n")


def adhoc(fleet: Fleet, pattern: str, module: str, args: str | None = None) -> dict[str, dict[str, Any]]:
    """Host -> result of ad hoc ``ansible PATTERN -m MODULE -a ARGS`` over SSH with four forks.

    A command's result is its ``rc`` and ``stdout`` (with stderr appended); every result
    has the ``status`` Ansible printed (SUCCESS, CHANGED, FAILED, UNREACHABLE).
    """
    argv = [pattern, "-m", module, *(["-a", args] if args is not None else [])]
    output = fleet.ansible(argv, forks=4, check=False).stdout
    headers = list(RESULT_HEADER.finditer(output))
    results = {}
    for header, following in zip(headers, [*headers[1:], None]):
        host, status, returncode = header.groups()
        body = output[header.end():following.start() if following else len(output)]
        if returncode is None:
            results[host] = dict(json.loads(body), status=status)
        else:
            results[host] = dict(rc=int(returncode), stdout=body.strip("\n"), status=status)
    return results


def answers(fleet: Fleet) -> dict[str, str]:
    """Host -> "pong" for each host of the inventory that answers ansible.builtin.ping, else its failure."""
    return {host: result.get("ping") or result.get("msg", "no answer")
            for host, result in adhoc(fleet, "all", "ansible.builtin.ping").items()}


def command_on_all(fleet: Fleet, command: str, pattern: str = "all",
                   module: str = "ansible.builtin.command") -> dict[str, str]:
    """Host -> stdout of *command* run over SSH by *module*, four forks (it must succeed on each)."""
    results = adhoc(fleet, pattern, module, command)
    assert all(result.get("rc") == 0 for result in results.values()), results
    return {host: result["stdout"] for host, result in results.items()}


def pids_in_netns(netns: tuple[int, int]) -> list[int]:
    """PIDs of every process on this machine whose network namespace is *netns* (st_dev, st_ino)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                info = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue
            if (info.st_dev, info.st_ino) == netns:
                found.append(int(entry))
    return found


def netns_of(pid: int) -> tuple[int, int]:
    info = os.stat(f"/proc/{pid}/ns/net")
    return info.st_dev, info.st_ino


def pids_naming(text: str) -> list[int]:
    """PIDs of every process on this machine whose command line contains *text*."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def reaches_ssh(world: World, address: str) -> bool:
    return world.run([sys.executable, "-c", TCP_PROBE, address], check=False, timeout=30).returncode == 0


def known_hosts_state() -> str:
    """What ~/.ssh/known_hosts holds (a hash), or that it does not exist."""
    path = Path.home() / ".ssh" / "known_hosts"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


@pytest.fixture(name="flavour", params=FLAVOURS)
def flavour_fixture(request: pytest.FixtureRequest) -> str:
    """Each iptables flavour in turn."""
    return str(request.param)


@pytest.fixture(name="flavour_fleet")
def flavour_fleet_fixture(flavour: str) -> Iterator[Fleet]:
    """Three hosts in a world whose iptables is *flavour*."""
    with World(iptables=flavour) as world, Fleet(world, count=3) as fleet:
        yield fleet


def test_hosts_answer_over_ssh_at_once_with_the_worlds_iptables(flavour_fleet: Fleet, flavour: str, tmp_path: Path) -> None:
    """Three hosts answer Ansible over SSH, with four forks really at once, and run the world's iptables."""
    fleet = flavour_fleet
    known_hosts = known_hosts_state()
    assert [(host.name, host.address) for host in fleet.hosts] == [
        ("fleet1", "198.51.100.11"), ("fleet2", "198.51.100.12"), ("fleet3", "198.51.100.13")]

    assert answers(fleet) == dict.fromkeys(["fleet1", "fleet2", "fleet3"], "pong")

    # A barrier: each host waits (at most 20 s) until all three have started the task, which
    # only ends if the forks run at once; a serial run would fail on the first host. Then
    # each tells its iptables flavour.
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    script = (f"touch {barrier}/$(hostname); for i in $(seq 200); do "
              f"[ $(ls {barrier} | wc -l) -ge 3 ] && exec iptables -V; sleep 0.1; done; exit 1")
    versions = command_on_all(fleet, script, module="ansible.builtin.shell")
    assert sorted(os.listdir(barrier)) == ["fleet1", "fleet2", "fleet3"]
    assert sorted(versions) == ["fleet1", "fleet2", "fleet3"]
    assert all(VERSION_MARKERS[flavour] in version for version in versions.values()), versions

    # The sessions came over SSH from the controller, the world's host node.
    for host in fleet.hosts:
        with open(os.path.join(fleet.directory, host.name, "sshd.log"), encoding="utf-8") as handle:
            assert "Accepted publickey for root from 198.51.100.2 " in handle.read()
    for host in fleet.hosts:
        assert VERSION_MARKERS[flavour] in fleet.run(host.name, ["iptables", "-V"]).stdout
    assert known_hosts_state() == known_hosts


def test_each_host_has_its_own_namespaces(fleet: Fleet, world: World) -> None:
    """A namespace made on one host over SSH is seen there only: not on the others, not in the controller."""
    command_on_all(fleet, "ip netns add probe", pattern="fleet2")
    listed = {host: output.split("\n") for host, output in command_on_all(
        fleet, "hostname; ip netns list", module="ansible.builtin.shell").items()}
    assert listed["fleet2"][1].split()[0] == "probe"  # the positive control
    assert listed["fleet1"] == ["fleet1"] and listed["fleet3"] == ["fleet3"]
    assert listed["fleet2"][0] == "fleet2"
    assert fleet.run("fleet2", ["ip", "netns", "list"]).stdout.split()[0] == "probe"
    assert fleet.run("fleet1", ["ip", "netns", "list"]).stdout == ""
    assert world.run(["ip", "netns", "list"]).stdout == ""
    assert world.run(["ls", "/run/netns"]).stdout == ""

    # Wired like the world's nodes: neighbours on the segment, the internet through the router.
    assert fleet.run("fleet1", ["ping", "-c", "1", "-W", "2", "198.51.100.13"], check=False).returncode == 0
    assert fleet.run("fleet1", ["ping", "-c", "1", "-W", "2", OTHER_ADDRESS], check=False).returncode == 0
    echoed = fleet.run("fleet3", ["curl", "-sS", "--noproxy", "*", "--max-time", "5", f"http://{INTERNET_ADDRESS}/"])
    assert echoed.stdout.strip() == "198.51.100.13"


def test_each_host_has_its_own_etc(world: World) -> None:
    """What a host writes in /etc (the lab's /etc/netns) is its own: not another host's, not the
    controller's, not this machine's; over SSH too, as Ansible sees it."""
    with Fleet(world, count=2) as fleet:
        for name in ("fleet1", "fleet2"):
            fleet.sh(name, f"mkdir -p /etc/netns/probe && echo {name} >/etc/netns/probe/hosts")
        assert command_on_all(fleet, "cat /etc/netns/probe/hosts") == {"fleet1": "fleet1", "fleet2": "fleet2"}
        assert world.run(["ls", "/etc/netns"], check=False).returncode != 0
        assert not os.path.lexists("/etc/netns/probe")
        # Each host's resolv.conf refuses lookups at once, written in its own /etc.
        assert fleet.run("fleet1", ["cat", "/etc/resolv.conf"]).stdout == "nameserver 127.0.0.1\n"
        # Nothing of it in the world's /etc overlay.
        assert world.run(["ls", "-A", f"{World.ETC_DIR}/upper"]).stdout == ""


def test_hosts_come_and_go(fleet: Fleet, world: World) -> None:
    """A fourth host joins and answers; a stopped host leaves no process and no SSH master."""
    fourth = fleet.add_host()
    assert (fourth.name, fourth.address) == ("fleet4", "198.51.100.14")
    assert answers(fleet) == dict.fromkeys(["fleet1", "fleet2", "fleet3", "fleet4"], "pong")

    second = fleet.host("fleet2")
    netns = netns_of(second.pid)
    assert len(pids_in_netns(netns)) >= 2  # sshd and the session of Ansible's master
    assert os.path.exists(os.path.join(fleet.control_dir, "fleet2"))
    # A service in a namespace of the host's own (as the lab runs them) goes with the host too.
    fleet.sh("fleet2", "ip netns add svc\n"
                       "ip netns exec svc setsid sleep 600 </dev/null >/dev/null 2>&1 &\n"
                       "for i in $(seq 100); do [ -n \"$(ip netns pids svc)\" ] && exit; sleep 0.05; done; exit 1",
             timeout=30)
    service = os.stat(f"/proc/{second.pid}/root/run/netns/svc")
    service_netns = (service.st_dev, service.st_ino)
    assert len(pids_in_netns(service_netns)) == 1
    fleet.stop_host("fleet2")

    assert pids_in_netns(netns) == []
    assert pids_in_netns(service_netns) == []
    assert not os.path.exists(os.path.join(fleet.control_dir, "fleet2"))
    assert [host.name for host in fleet.hosts] == ["fleet1", "fleet3", "fleet4"]
    assert not reaches_ssh(world, "198.51.100.12")
    assert reaches_ssh(world, "198.51.100.11")  # the positive control
    assert world.run(["ip", "link", "show", "fleet2"], "router", check=False).returncode != 0
    assert answers(fleet) == dict.fromkeys(["fleet1", "fleet3", "fleet4"], "pong")


def test_a_stopped_fleet_leaves_nothing_behind(world: World) -> None:
    """After stop: no process in any host, no ssh of the fleet, no directory, no link; and a new
    fleet at the same addresses starts empty instead of reaching the old hosts through a master."""
    fleet = Fleet(world, count=3).start()
    try:
        command_on_all(fleet, "ip netns add stale", pattern="fleet1")
        assert fleet.ssh_processes()  # the positive control: Ansible's masters are up
        netns = [netns_of(host.pid) for host in fleet.hosts]
        directory = fleet.directory
    finally:
        fleet.stop()
    fleet.stop()

    assert [pids_in_netns(each) for each in netns] == [[], [], []]
    assert pids_naming(directory) == []
    assert not os.path.exists(directory)
    links = json.loads(world.run(["ip", "-j", "link", "show"], "router").stdout)
    assert not [link["ifname"] for link in links if link["ifname"].startswith("fleet")]

    with Fleet(world, count=1) as again:
        assert command_on_all(again, "ip netns list") == {"fleet1": ""}


def test_the_lab_playbook_runs_on_every_host(fleet: Fleet, world: World) -> None:
    """playbooks/lab.yml over SSH with four forks builds each host's own lab behind its own address."""
    result = fleet.playbook([LAB_PLAYBOOK, "-e", "lab_install_packages=false",
                             "-e", json.dumps({"lab_namespaces": [{"name": "c1"}]})], check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    recap = r"^(fleet\d)\s+: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0 "
    assert re.findall(recap, result.stdout, re.M) == ["fleet1", "fleet2", "fleet3"]
    for host in fleet.hosts:
        assert fleet.run(host.name, ["ip", "netns", "list"]).stdout.split()[0] == "c1"
        # The internet sees each lab behind its own host's address: NAT out of that host's eth0.
        echoed = fleet.run(host.name, ["ip", "netns", "exec", "c1", "curl", "-sS", "--noproxy", "*",
                                       "--max-time", "5", f"http://{INTERNET_ADDRESS}/"])
        assert echoed.stdout.strip() == host.address
    assert world.run(["ip", "netns", "list"]).stdout == ""
    # Files the role writes where ansible-playbook runs stay in the fleet's directory.
    assert sorted(name for name in os.listdir(fleet.directory) if name.startswith("lab-")) == [
        "lab-fleet1.md", "lab-fleet2.md", "lab-fleet3.md"]
