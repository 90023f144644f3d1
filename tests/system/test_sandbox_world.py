# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox world itself: topology, real traffic, isolation and clean teardown."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nslab_sandbox import (
    HOST_ADDRESS,
    INTERNET_ADDRESS,
    OTHER_ADDRESS,
    ROUTER_ADDRESS,
    WORLD_DIR,
    CommandError,
    CommandTimeout,
    ResolverHost,
    World,
    host_snapshot,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERNET_URL = f"http://{INTERNET_ADDRESS}/"

pytestmark = pytest.mark.system


def http_get(world: World, url: str, node: str = "host") -> str:
    """Body of *url* fetched from *node* (curl if installed, else Python), no proxy."""
    if shutil.which("curl"):
        argv = ["curl", "-sS", "--noproxy", "*", "--max-time", "5", url]
    else:
        code = ("import sys, urllib.request; "
                "opener = urllib.request.build_opener(urllib.request.ProxyHandler({})); "
                "sys.stdout.write(opener.open(sys.argv[1], timeout=5).read().decode())")
        argv = [sys.executable, "-c", code, url]
    return world.run(argv, node=node, timeout=30).stdout


def pid_namespace_members(pid_ns: str) -> list[int]:
    """PIDs of all processes whose PID namespace is *pid_ns* (a readlink of /proc/PID/ns/pid)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == pid_ns:
                    members.append(int(entry))
            except OSError:
                continue
    return members


@pytest.mark.parametrize("address", [ROUTER_ADDRESS, OTHER_ADDRESS, INTERNET_ADDRESS])
def test_host_pings_the_world(world: World, address: str) -> None:
    """The host reaches the router, the other machine and, through the router, the internet."""
    if not shutil.which("ping"):
        pytest.skip("ping (iputils-ping) is not installed")
    world.run(["ping", "-c1", "-W2", address], timeout=30)


def test_internet_sees_the_host_uplink_address(world: World) -> None:
    """The echo server answers with the address it sees: the host's uplink address."""
    assert http_get(world, INTERNET_URL) == f"{HOST_ADDRESS}\n"


def test_internet_sees_the_other_machine_address(world: World) -> None:
    """The other machine on the uplink segment is seen with its own address."""
    assert http_get(world, INTERNET_URL, node="other") == f"{OTHER_ADDRESS}\n"


def test_router_forwards_but_knows_no_lab_subnet(world: World) -> None:
    """Only the router forwards, and it has no way back to lab subnets."""
    assert world.run(["cat", "/proc/sys/net/ipv4/ip_forward"], node="router").stdout == "1\n"
    assert world.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout == "0\n"
    # NAT tests rely on this: un-masqueraded lab traffic must get no answer.
    result = world.run(["ip", "route", "get", "10.1.2.3"], node="router", check=False)
    assert result.returncode != 0, result.stdout
    assert "unreachable" in result.stderr


def test_host_starts_with_no_named_namespaces(world: World) -> None:
    """`ip netns list` is the product's: the world's own nodes are not in it."""
    assert world.run(["ip", "netns", "list"]).stdout == ""


def test_named_namespace_stays_in_the_world(world: World) -> None:
    """`ip netns add` in the world is invisible outside and gone with the world."""
    world.run(["ip", "netns", "add", "t1"])
    assert world.run(["ip", "netns", "list"]).stdout.split() == ["t1"]
    assert "lo" in world.run(["ip", "-br", "link"], node="netns:t1").stdout
    assert not os.path.exists("/run/netns/t1")
    world.stop()
    with World() as fresh:
        assert fresh.run(["ip", "netns", "list"]).stdout == ""


def test_start_and_stop_leave_the_machine_unchanged() -> None:
    """A world's whole life, with links and namespaces made in it, leaves no trace here."""
    before = host_snapshot.snapshot()
    with World() as world:
        world.sh("ip netns add t1 && ip link add br0 type bridge && ip link set br0 up")
    after = host_snapshot.snapshot()
    assert after == before, host_snapshot.diff(before, after)


def test_stop_leaves_no_process_alive() -> None:
    """stop() ends every process of the sandbox, also ones the caller left running."""
    world = World().start()
    assert world.init_pid is not None
    pid_ns = os.readlink(f"/proc/{world.init_pid}/ns/pid")
    started = world.pids()
    # A background process the caller never stops must die with the world.
    server = world.popen(["sleep", "300"])
    deadline = time.monotonic() + 10
    while len(pid_namespace_members(pid_ns)) < 3:  # init, HTTP server, sleep
        assert time.monotonic() < deadline, "sleep did not start in the world"
        time.sleep(0.01)
    world.stop()
    world.stop()  # idempotent
    assert server.wait(timeout=10) != 0
    assert not world.running
    assert not pid_namespace_members(pid_ns)
    assert [pid for pid in started if os.path.exists(f"/proc/{pid}")] == []


def test_etc_is_the_worlds_own(world: World) -> None:
    """/etc in the world is an overlay: what the world writes there stays in the world's /run
    (and goes with it), this machine's /etc shows none of it, and a new world starts afresh."""
    probe = "/etc/netns/nslab-probe/hosts"
    assert world.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", "/etc"]).stdout.split() == ["overlay", "nslab-etc"]
    world.sh(f"mkdir -p {os.path.dirname(probe)} && echo '10.1.2.3 probe' >{probe}")
    assert world.run(["cat", probe]).stdout == "10.1.2.3 probe\n"  # the positive control
    assert os.path.exists(f"/proc/{world.init_pid}/root{World.ETC_DIR}/upper/netns/nslab-probe/hosts")
    assert not os.path.lexists("/etc/netns/nslab-probe")
    # A file this machine has is seen in the world and changed there alone (where /etc/hosts is
    # a plain file of the overlay: not a link, not a file mounted on it).
    with open("/etc/hosts", "rb") as handle:
        hosts = handle.read()
    assert world.run(["cat", "/etc/hosts"]).stdout.encode() == hosts
    changed = world.sh('[ ! -L /etc/hosts ] && [ "$(findmnt -n -o FSTYPE -T /etc/hosts)" = overlay ] || exit 0\n'
                       "echo '10.1.2.3 probe' >>/etc/hosts && echo changed").stdout
    if changed:
        assert world.run(["tail", "-n", "1", "/etc/hosts"]).stdout == "10.1.2.3 probe\n"
    with open("/etc/hosts", "rb") as handle:
        assert handle.read() == hosts
    world.stop()
    with World() as fresh:
        assert fresh.run(["ls", "/etc/netns/nslab-probe"], check=False).returncode != 0
        assert fresh.run(["cat", "/etc/hosts"]).stdout.encode() == hosts


# A DNS query for the A record of sys.argv[2], over TCP to sys.argv[1]:53; prints the addresses.
DNS_OVER_TCP = r"""
import socket, struct, sys
name = b"".join(bytes([len(label)]) + label.encode() for label in sys.argv[2].split(".")) + b"\0"
query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
with socket.create_connection((sys.argv[1], 53), timeout=5) as sock:
    sock.sendall(struct.pack("!H", len(query)) + query)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
reply = data[2:]
rcode, answers = reply[3] & 0xF, struct.unpack("!H", reply[6:8])[0]
print(rcode, " ".join(socket.inet_ntoa(reply[-16 * i + 12:][:4]) for i in range(answers, 0, -1)))
"""


def getent(world: World, name: str, node: str = "host") -> subprocess.CompletedProcess[str]:
    return world.run(["timeout", "5", "getent", "hosts", name], node=node, check=False, timeout=30)


def test_dns_kit_makes_resolver_hosts(world: World) -> None:
    """The DNS kit: the internet's server answers its table (UDP and TCP) and NXDOMAIN; the
    host's stub relays to it; a namespace that reads the host's resolv.conf finds no stub on its
    own loopback; each kind of host resolves; stopped servers exit. The machine's /etc is the
    autouse guard's."""
    with ResolverHost(world) as resolver:
        # resolved: /etc/resolv.conf a link to the stub's file, the upstream in /run.
        assert world.run(["readlink", "/etc/resolv.conf"]).stdout == "../run/systemd/resolve/stub-resolv.conf\n"
        assert "nameserver 127.0.0.53\n" in world.run(["cat", "/etc/resolv.conf"]).stdout
        assert "nameserver 203.0.113.10\n" in world.run(["cat", "/run/systemd/resolve/resolv.conf"]).stdout
        assert getent(world, "example.test").stdout.split() == [INTERNET_ADDRESS, "example.test"]
        assert getent(world, "WWW.Example.Test.").stdout.split()[0] == INTERNET_ADDRESS
        assert "127.0.0.1 example.test A forwarded 0" in resolver.queries("stub")
        assert f"{HOST_ADDRESS} example.test A {INTERNET_ADDRESS}" in resolver.queries("internet")
        assert getent(world, "nowhere.test").returncode == 2
        assert f"{HOST_ADDRESS} nowhere.test A NXDOMAIN" in resolver.queries("internet")
        tcp = world.run([sys.executable, "-c", DNS_OVER_TCP, INTERNET_ADDRESS, "www.example.test"], timeout=30)
        assert tcp.stdout.split() == ["0", INTERNET_ADDRESS]
        # The bug /etc/netns/NAME/resolv.conf fixes: 127.0.0.53 is the namespace's own loopback.
        world.sh("ip netns add t1 && ip -n t1 link set lo up")
        assert getent(world, "example.test", "netns:t1").returncode == 2

        resolver.switch("dnsmasq")
        assert world.run(["cat", "/etc/resolv.conf"]).stdout.splitlines()[-1] == "nameserver 127.0.0.1"
        assert world.run(["ls", "/run/systemd/resolve"], check=False).returncode != 0
        assert getent(world, "example.test").stdout.split()[0] == INTERNET_ADDRESS
        assert getent(world, "example.test", "netns:t1").returncode == 2
        resolver.switch("plain")
        stub_queries = len(resolver.queries("stub"))
        assert getent(world, "www.example.test").stdout.split()[0] == INTERNET_ADDRESS
        assert len(resolver.queries("stub")) == stub_queries  # asked the upstream directly
        servers = [resolver.internet]
    assert [server.wait(timeout=10) for server in servers] == [0]
    assert world.run(["pgrep", "-f", "dns_server.py"], check=False).stdout == ""


def test_failed_command_reports_node_and_output(world: World) -> None:
    """A failing command raises an error that tells the node, the status and the output."""
    with pytest.raises(CommandError) as caught:
        world.sh("echo to-stdout; echo to-stderr >&2; exit 3", node="other")
    message = str(caught.value)
    assert caught.value.returncode == 3
    for text in ("'other'", "exit code 3", "to-stdout", "to-stderr"):
        assert text in message
    assert world.sh("exit 4", check=False).returncode == 4


def test_timeout_kills_the_command(world: World) -> None:
    """A command past its timeout is killed with its whole pipeline."""
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        world.sh("sleep 60 | cat", timeout=1)
    assert time.monotonic() - started < 15
    assert "sleep" not in world.run(["ps", "-eo", "comm"]).stdout


def test_run_passes_input_env_and_cwd(world: World) -> None:
    """run() feeds input and passes environment and working directory through."""
    result = world.sh('cat; echo "$NSLAB_TEST_VALUE $NSLAB_WORLD"; pwd', input="in\n",
                      env={**os.environ, "NSLAB_TEST_VALUE": "v"}, cwd="/tmp")
    assert result.stdout == f"in\nv {WORLD_DIR}\n/tmp\n"


def test_node_helper_reaches_other_nodes(world: World) -> None:
    """From the host, `python -m nslab_sandbox node` and `nslab-node` run commands in other nodes."""
    result = world.run([sys.executable, "-m", "nslab_sandbox", "node", "other", "--",
                        "ip", "-br", "addr", "show", "eth0"])
    assert OTHER_ADDRESS in result.stdout
    assert INTERNET_ADDRESS in world.run(["nslab-node", "internet", "ip", "-br", "addr"]).stdout


@pytest.mark.skipif(os.path.exists(WORLD_DIR), reason="these tests run inside a sandbox world")
def test_node_helper_refuses_outside_a_world() -> None:
    """On the real machine the node helper refuses instead of running anything."""
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "tools")}
    result = subprocess.run([sys.executable, "-m", "nslab_sandbox", "node", "other", "--", "true"],
                            capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 2
    assert "not inside an nslab sandbox world" in result.stderr


def test_cli_runs_a_command_in_a_world(tmp_path: Path) -> None:
    """scripts/sandbox run keeps the working directory and passes the exit status on."""
    script = os.path.join(REPO, "scripts", "sandbox")
    result = subprocess.run([script, "run", "--", "sh", "-c", "pwd; ip -br addr show eth0; exit 7"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 7, result.stderr
    assert result.stdout.splitlines()[0] == str(tmp_path)
    assert HOST_ADDRESS in result.stdout
