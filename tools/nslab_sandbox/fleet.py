# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet of hosts in a sandbox world that Ansible drives over real SSH.

A playbook for several machines (the lab on each, an overlay between them)
must be run the way users run it: one ``ansible-playbook`` on a controller,
SSH to every host, forks in parallel. A :class:`Fleet` gives a started
:class:`~nslab_sandbox.World` such hosts, on the world's underlay segment next
to the host node, which is the controller::

        host (controller) 198.51.100.2 --+
        other             198.51.100.3 --+
        fleet1            198.51.100.11 -+-- seg (router) 198.51.100.1 -- internet 203.0.113.10
        fleet2            198.51.100.12 -+
        ...

Each host is one process started in the world with ``unshare --net --mount
--uts``: its own network namespace (``eth0`` wired into the router's ``seg``
bridge like the world's other nodes, default route via the router), its own
mount namespace with a private tmpfs on ``/run`` (so ``/run/netns``,
``/run/nslab`` and ``/run/sshd`` are the host's own: what the product records
on one host is not seen by another, nor by the controller), an overlay of its
own over the world's ``/etc`` (what the product writes there, ``/etc/netns``,
is the host's alone, in ``/run/nslab-fleet-etc/upper``), ``/sys``
mounted again, a private ``/var/log`` (sshd's login records), a resolv.conf
that refuses lookups at once (the sandbox has no DNS server), and its own
host name. The process ends as ``sshd -D -e`` with a
configuration of the fleet's, so the host lives exactly as long as its sshd.
Everything else (``/usr``, what the hosts do not write in ``/etc``, the checkout and
its ``.venv``) is this machine's, which is why the inventory can name the checkout's
virtualenv as the target interpreter. ``/etc/alternatives`` is the world's (the host's
overlay keeps the world's mounts under ``/etc`` on top), so the hosts run the
iptables flavour the world was started with (``World(iptables=...)``; see
:mod:`~nslab_sandbox.iptables_flavour`): the host's mount namespace is a copy of
the world's, made when the host starts.

The hosts share the world's PID namespace: they die with the world whatever
happens, and everything a host runs (SSH sessions, the lab's services) is found
by its network or mount namespace and ended by PID when the host stops.

SSH is kept private to the fleet: a key pair and a host key made for it, an
``ssh_config`` used instead of the user's and the machine's (no known_hosts is
read or written), one control socket per host in the fleet's own directory.
Ansible's connection sharing would otherwise outlive a host: a master
connection kept in ``~/.ansible/cp`` holds an SSH session, and so the
namespaces, of a host that is gone, and a later fleet that reuses the address
silently runs its modules in the dead host. So :meth:`Fleet.stop_host` and
:meth:`Fleet.stop` end the host's master (``ssh -O exit``) and every process
left in its namespaces, and the fleet's directory goes with the fleet.

Usage::

    with World(iptables="nft") as world, Fleet(world, count=3) as fleet:
        fleet.ansible(["all", "-m", "ansible.builtin.ping"])
        fleet.playbook([LAB_PLAYBOOK, "-e", "@lab.yml"])
        fleet.run("fleet1", ["ip", "netns", "list"])

From a shell: ``python -m nslab_sandbox fleet --hosts 3 -- CMD`` (see ``__main__.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import CommandError, WorldError
from .iptables_flavour import _VERSION_MARKERS
from .world import (
    PREFIX_LENGTH,
    ROUTER_ADDRESS,
    TOOLS_DIR,
    SandboxProcess,
    World,
    _read_until,
    private_etc_script,
    run_captured,
)

#: The checkout this package belongs to, and its virtualenv (made by scripts/bootstrap.sh).
REPO = os.path.dirname(TOOLS_DIR)
VENV = os.path.join(REPO, ".venv")
#: The playbook users run on a fleet; a path, since :meth:`Fleet.playbook` runs in the fleet's directory.
LAB_PLAYBOOK = os.path.join(REPO, "playbooks", "lab.yml")
#: Host number N is named fleetN and has this address's last byte plus N.
NAME_PREFIX = "fleet"
_ADDRESS_BASE = 10
#: Addresses stay in 198.51.100.11 .. 198.51.100.254.
MAX_HOSTS = 244
SSH_PORT = 22
#: The group of every host in the inventory, besides ``all``.
GROUP = "fleet"
#: Where Ansible puts its remote temporary files on a host: its private /run, not the shared /root.
REMOTE_TMP = "/run/ansible-tmp"
# The router's end of host N's veth gets ifindex 100 + N, never its peer's (2):
# see the note on _NODE_LINKS in world.py about equal ifindexes.
_ROUTER_INDEX_BASE = 100

_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
_NETNS_READY = b"nslab-fleet-netns-ready"
_HOST_READY = b"nslab-fleet-host-ready"
_IPTABLES_LINE = "nslab-fleet-iptables "
#: A host's /etc overlay: what was written to /etc on the host is in ETC_DIR/upper (its private /run).
ETC_DIR = "/run/nslab-fleet-etc"

# Runs in the host's new namespaces ($1 name, $2 address, $3 sshd, $4 config,
# $5 log): private /run, /etc (over the world's) and /sys, and /var/log (sshd logs terminal sessions
# in wtmp and lastlog there), then it waits (bounded) for the veth that the
# fleet sends in from the router, configures it, and becomes sshd.
# `sshd -t` tells whether this sshd knows PerSourcePenalties (OpenSSH 9.8+):
# the fleet's readiness probe and Ansible's many connections from one address
# must not earn the controller a penalty.
_HOST_SCRIPT = f"""
set -eu
name=$1 address=$2 sshd=$3 config=$4 log=$5
mount -t tmpfs -o mode=755 nslab-fleet-run /run
{private_etc_script(ETC_DIR, read_only_submounts=False)}
mkdir -p /run/netns /run/nslab /run/sshd
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 nslab-fleet-log /var/log
touch /var/log/wtmp /var/log/btmp /var/log/lastlog
# No DNS server answers in the sandbox: a name lookup (Ansible's facts, Python's http.server
# naming itself) would wait 5 s for this machine's resolver. The host's own loopback refuses
# it at once, as a real network answers it in milliseconds.
# Written in the host's /etc overlay (a link to systemd-resolved's file replaced, a file that
# the world mounted from the machine unmounted first, in this mount namespace only).
umount /etc/resolv.conf 2>/dev/null || :
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\n' >/etc/resolv.conf
hostname "$name"
echo 0 >/proc/sys/net/ipv4/ip_forward
if [ -d /proc/sys/net/ipv6 ]; then
    echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad
    echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad
fi
ip link set lo up
echo "{_IPTABLES_LINE}$(iptables -V 2>&1 | head -n 1)"
echo {_NETNS_READY.decode()}
tries=0
until ip link show eth0 >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -le 500 ] || {{ echo "eth0 did not arrive in 10 s"; exit 1; }}
    sleep 0.02
done
ip addr add "$address/{PREFIX_LENGTH}" dev eth0
ip link set eth0 up
ip route add default via {ROUTER_ADDRESS}
tries=0
until [ "$(cat /sys/class/net/eth0/operstate)" = up ]; do
    tries=$((tries + 1))
    [ $tries -le 500 ] || {{ echo "eth0 not up after 10 s"; ip link show eth0; exit 1; }}
    sleep 0.02
done
penalties=
if "$sshd" -t -f "$config" -o PerSourcePenalties=no 2>/dev/null; then
    penalties="-o PerSourcePenalties=no"
fi
echo {_HOST_READY.decode()}
exec "$sshd" -D -e -f "$config" $penalties >>"$log" 2>&1 </dev/null
"""

# Run in the controller: succeed once every address answers on the SSH port
# with an SSH banner, or fail at the deadline naming those that do not.
_SSH_PROBE = f"""
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
waiting = set(sys.argv[2:])
while waiting and time.monotonic() < deadline:
    for address in sorted(waiting):
        try:
            with socket.create_connection((address, {SSH_PORT}), timeout=1) as sock:
                sock.settimeout(2)
                banner = sock.recv(64)
        except OSError:
            continue
        if banner.startswith(b"SSH-"):
            waiting.discard(address)
    if waiting:
        time.sleep(0.02)
print(" ".join(sorted(waiting)))
sys.exit(1 if waiting else 0)
"""


@dataclass(frozen=True)
class FleetHost:
    """One host of a fleet: its inventory name, its address on the underlay, its PID.

    *pid* is the host's sshd as seen from this machine (``nsenter -t PID -n -m``
    enters the host); its ``/proc/PID/ns/net`` is the host's network namespace.
    """

    name: str
    address: str
    pid: int


@dataclass
class _Host:
    """What the fleet keeps about a host it started."""

    host: FleetHost
    number: int
    proc: SandboxProcess
    #: The host's PID in the world's PID namespace (what `ip link ... netns PID` there takes).
    world_pid: int
    #: (st_dev, st_ino) of the host's network and mount namespaces.
    netns: tuple[int, int]
    mntns: tuple[int, int]
    iptables: str

    @property
    def port(self) -> str:
        """The name of the router's end of the host's veth (in the seg bridge)."""
        return self.host.name


def _mac(address: str) -> str:
    """The MAC of the host at *address*: a new host at an address a stopped one had (another
    fleet in the same world) answers at the MAC that the controller's ARP cache still holds,
    instead of being unreachable until that entry times out (up to a minute)."""
    return ":".join(["02", "66", *(f"{int(byte):02x}" for byte in address.split("."))])


def _namespace(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _world_pid(pid: int) -> int:
    """*pid*'s number in its innermost PID namespace (the last field of NSpid)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise WorldError(f"/proc/{pid}/status has no NSpid line")


def _kill_until_gone(find: Any, what: str, timeout: float) -> None:
    """SIGKILL the PIDs ``find()`` returns until it returns none, within *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = find()
        if not left:
            return
        if time.monotonic() > deadline:
            raise WorldError(f"{what} {left} did not die within {timeout} s")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _find_tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=_SBIN_PATH)
    if not path:
        raise WorldError(f"{name!r} not found: the sandbox fleet needs {package} (scripts/bootstrap.sh installs it)")
    return path


def _yaml_scalar(value: object) -> str:
    """A YAML scalar for a str, bool or int: JSON's double-quoted strings are YAML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Fleet:
    """Hosts that Ansible reaches over SSH from the world's host node; see the module docstring.

    Use it as a context manager on a started world, or call :meth:`start` and
    :meth:`stop` (before the world stops). Hosts are ``fleet1``, ``fleet2``...
    with addresses 198.51.100.11, .12...; a host's number is never reused
    within a fleet, so an address never names two hosts in one fleet's life.
    """

    # pylint: disable-next=too-many-arguments  # the options are keyword-only
    def __init__(self, world: World, count: int = 3, *, python: str | None = None, pipelining: bool = True,
                 start_timeout: float = 30.0, stop_timeout: float = 10.0) -> None:
        """*python*: the targets' interpreter for Ansible; default the checkout's
        ``.venv/bin/python`` (pyroute2 and python-iptables are there), else /usr/bin/python3.
        *pipelining*: the inventory's ``ansible_pipelining``. On by default: it halves the time
        of a run on a small machine and changes nothing that a module does; off, Ansible
        copies each module over SFTP first, as it does by default.
        """
        if not 0 <= count <= MAX_HOSTS:
            raise ValueError(f"count must be 0..{MAX_HOSTS}, not {count}")
        self.world = world
        self.count = count
        self.python = python or self._default_python()
        self.pipelining = pipelining
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._hosts: dict[str, _Host] = {}
        self._numbers = 0
        self._dir: str | None = None
        self._nsenter = ""
        self._sshd = ""
        self._ssh = ""
        self._world_pidns: tuple[int, int] | None = None
        # Output read from starting hosts, by the PID of their nsenter.
        self._output: dict[int, bytes] = {}

    @staticmethod
    def _default_python() -> str:
        venv_python = os.path.join(VENV, "bin", "python")
        return venv_python if os.path.exists(venv_python) else "/usr/bin/python3"

    # -- lifetime -------------------------------------------------------

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the fleet is started and not stopped (its hosts may have died with the world)."""
        return self._dir is not None

    @property
    def directory(self) -> str:
        """The fleet's private directory: keys, configurations, logs, control sockets, inventory."""
        if self._dir is None:
            raise WorldError("fleet not started")
        return self._dir

    @property
    def ssh_config(self) -> str:
        """The fleet's ssh_config: ``ssh -F PATH fleet1`` from the controller logs into fleet1."""
        return os.path.join(self.directory, "ssh_config")

    @property
    def control_dir(self) -> str:
        """Where Ansible's SSH master connections to the hosts keep their sockets."""
        return os.path.join(self.directory, "cp")

    @property
    def hosts(self) -> list[FleetHost]:
        """The hosts started and not stopped, in order of their numbers."""
        return [state.host for state in sorted(self._hosts.values(), key=lambda state: state.number)]

    def host(self, name: str) -> FleetHost:
        """The running host called *name*."""
        return self._state(name).host

    def _state(self, name: str) -> _Host:
        try:
            return self._hosts[name]
        except KeyError:
            raise WorldError(f"no running host {name!r} in the fleet (hosts: "
                             f"{', '.join(self._hosts) or 'none'})") from None

    def start(self) -> Fleet:
        """Make the fleet's keys and configuration and start *count* hosts; wait until sshd answers."""
        if self._dir is not None:
            raise WorldError("fleet already started")
        if not self.world.running or self.world.init_pid is None:
            raise WorldError("the fleet needs a started world")
        self._nsenter = _find_tool("nsenter", "util-linux")
        self._sshd = _find_tool("sshd", "openssh-server")
        self._ssh = _find_tool("ssh", "openssh-client")
        keygen = _find_tool("ssh-keygen", "openssh-client")
        self._world_pidns = _namespace(f"/proc/{self.world.init_pid}/ns/pid")
        self._dir = tempfile.mkdtemp(prefix="nslab-fleet-")
        try:
            self._write_keys(keygen)
            self._write_ssh_config()
            self._start_hosts(self.count)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_keys(self, keygen: str) -> None:
        for key in ("id_ed25519", "ssh_host_ed25519_key"):
            result = subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"nslab-fleet {key}",
                                     "-f", os.path.join(self.directory, key)],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=30, check=False)
            if result.returncode != 0:
                raise WorldError(f"ssh-keygen failed: {result.stderr.strip()}")
        shutil.copyfile(os.path.join(self.directory, "id_ed25519.pub"),
                        os.path.join(self.directory, "authorized_keys"))
        os.makedirs(self.control_dir, mode=0o700)
        os.makedirs(os.path.join(self.directory, "ansible-local"), mode=0o700)

    def _write_ssh_config(self) -> None:
        """The client side, for Ansible (``-F``) and humans alike; replaces ~/.ssh/config and ssh_config."""
        lines = [f"# nslab sandbox fleet {self.directory}: ssh -F {self.ssh_config} {NAME_PREFIX}1"]
        for state in sorted(self._hosts.values(), key=lambda item: item.number):
            lines += [f"Host {state.host.name}", f"    HostName {state.host.address}"]
        lines += [
            "Host *",
            "    User root",
            f"    IdentityFile {os.path.join(self.directory, 'id_ed25519')}",
            "    IdentitiesOnly yes",
            "    BatchMode yes",
            # No host key is checked or remembered: the hosts are the fleet's own.
            "    StrictHostKeyChecking no",
            "    UserKnownHostsFile /dev/null",
            "    GlobalKnownHostsFile /dev/null",
            "    LogLevel ERROR",
            "    ConnectTimeout 10",
        ]
        with open(self.ssh_config, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    def _sshd_config(self, name: str, address: str) -> str:
        return "\n".join([
            f"# nslab sandbox fleet: host {name}",
            f"ListenAddress {address}",
            f"Port {SSH_PORT}",
            f"HostKey {os.path.join(self.directory, 'ssh_host_ed25519_key')}",
            f"AuthorizedKeysFile {os.path.join(self.directory, 'authorized_keys')}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # PAM would register sessions with this machine's logind and lastlog.
            "UsePAM no",
            # The keys live in a temporary directory, not in ~/.ssh with its modes.
            "StrictModes no",
            "PidFile /run/sshd.pid",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            # Ansible opens sessions from many forks at once over one master.
            "MaxStartups 100",
            "MaxSessions 100",
            "Subsystem sftp internal-sftp",
            "",
        ])

    # -- hosts ------------------------------------------------------------

    def add_host(self) -> FleetHost:
        """Start one more host, wired like the others; wait until its sshd answers."""
        if self._dir is None:
            raise WorldError("fleet not started")
        (host,) = self._start_hosts(1)
        return host

    def _start_hosts(self, count: int) -> list[FleetHost]:
        """Start *count* hosts at once: their processes, then one wiring batch, then one probe."""
        if self._numbers + count > MAX_HOSTS:
            raise WorldError(f"a fleet has at most {MAX_HOSTS} hosts over its life")
        if not self.world.running:
            raise WorldError("the world is not running")
        deadline = time.monotonic() + self.start_timeout
        spawned: list[tuple[int, str, str, SandboxProcess]] = []
        started: list[_Host] = []
        try:
            for unused in range(count):
                self._numbers += 1
                number = self._numbers
                name = f"{NAME_PREFIX}{number}"
                address = f"{ROUTER_ADDRESS.rsplit('.', 1)[0]}.{_ADDRESS_BASE + number}"
                spawned.append((number, name, address, self._spawn(name, address)))
            while spawned:
                started.append(self._adopt(*spawned[0], deadline))
                spawned.pop(0)
            self._wire(started)
            for state in started:
                self._wait_output(state.proc, _HOST_READY, deadline, state.host.name)
                assert state.proc.stdout is not None
                state.proc.stdout.close()
            self._wait_sshd(started, deadline)
        except BaseException:
            for state in started:
                self._end_host(state)
            for *unused, proc in spawned:
                proc.kill()
                proc.wait(timeout=self.stop_timeout)
            raise
        finally:
            for *unused, proc in spawned:
                self._output.pop(proc.pid, None)
            for state in started:
                self._output.pop(state.proc.pid, None)
        for state in started:
            self._hosts[state.host.name] = state
        self._write_ssh_config()
        self.inventory()
        return [state.host for state in started]

    def _spawn(self, name: str, address: str) -> SandboxProcess:
        host_dir = os.path.join(self.directory, name)
        os.makedirs(host_dir, mode=0o700)
        config = os.path.join(host_dir, "sshd_config")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(self._sshd_config(name, address))
        argv = ["unshare", "--net", "--mount", "--uts", "--propagation", "private", "--",
                "sh", "-c", _HOST_SCRIPT, "sh", name, address, self._sshd, config,
                os.path.join(host_dir, "sshd.log")]
        return self.world.popen(argv, "host", cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def _wait_output(self, proc: SandboxProcess, marker: bytes, deadline: float, name: str) -> bytes:
        """The host's output up to *marker* (kept: a read may already have brought the next one)."""
        assert proc.stdout is not None
        output = self._output.get(proc.pid, b"")
        if marker not in output:
            ready, more = _read_until(proc.stdout.fileno(), marker, max(0.0, deadline - time.monotonic()))
            output += more
            self._output[proc.pid] = output
            if not ready and marker not in output:
                text = output.decode("utf-8", "replace").strip()
                raise WorldError(f"fleet host {name} did not start ({marker.decode()} missing); its output:\n{text}")
        return output

    def _adopt(self, number: int, name: str, address: str, proc: SandboxProcess, deadline: float) -> _Host:
        """Once the host's namespaces exist: its PID, namespaces and iptables flavour."""
        output = self._wait_output(proc, _NETNS_READY, deadline, name).decode("utf-8", "replace")
        # nsenter forks once (for the PID namespace); unshare, sh and sshd are that one child.
        children = _children_of(proc.pid)
        while not children:
            if time.monotonic() > deadline:
                raise WorldError(f"fleet host {name}: no process under nsenter {proc.pid}")
            time.sleep(0.005)
            children = _children_of(proc.pid)
        pid = children[0]
        netns, mntns = _namespace(f"/proc/{pid}/ns/net"), _namespace(f"/proc/{pid}/ns/mnt")
        if netns is None or mntns is None:
            raise WorldError(f"fleet host {name}: cannot read the namespaces of PID {pid}")
        iptables = next((line[len(_IPTABLES_LINE):] for line in output.splitlines()
                         if line.startswith(_IPTABLES_LINE)), "")
        state = _Host(FleetHost(name, address, pid), number, proc, _world_pid(pid), netns, mntns, iptables)
        marker = _VERSION_MARKERS.get(self.world.iptables or "")
        if marker and marker not in iptables:
            self._end_host(state)
            raise WorldError(f"fleet host {name} runs {iptables!r}, not the world's {self.world.iptables} "
                             "flavour (was the flavour switched after the world started?)")
        return state

    def _wire(self, states: Sequence[_Host]) -> None:
        """One veth per host from the router's seg bridge; the host's end arrives as eth0."""
        batch = []
        for state in states:
            batch += [f"link add {state.port} index {_ROUTER_INDEX_BASE + state.number} type veth"
                      f" peer name eth0 index 2 address {_mac(state.host.address)} netns {state.world_pid}",
                      f"link set {state.port} master seg",
                      f"link set {state.port} up"]
        try:
            self.world.run(["ip", "-batch", "-"], "router", input="\n".join(batch) + "\n", timeout=30)
        except CommandError as error:
            raise WorldError(f"cannot wire fleet hosts into the router: {error}") from error

    def _wait_sshd(self, states: Sequence[_Host], deadline: float) -> None:
        left = max(1.0, deadline - time.monotonic())
        names = {state.host.address: state.host.name for state in states}
        result = self.world.run([sys.executable, "-I", "-c", _SSH_PROBE, str(left), *names],
                                "host", check=False, timeout=left + 10)
        if result.returncode != 0:
            silent = [address for address in result.stdout.split() if address in names] or list(names)
            logs = [f"--- {names[address]} ({address}) sshd.log ---\n{self._log(names[address])}"
                    for address in silent]
            raise WorldError(f"sshd of {', '.join(silent)} did not answer from the controller within "
                             f"{left:.0f} s\n{result.stderr.strip()}\n" + "\n".join(logs))

    def _log(self, name: str) -> str:
        try:
            with open(os.path.join(self.directory, name, "sshd.log"), encoding="utf-8", errors="replace") as handle:
                return handle.read()[-4000:]
        except OSError as error:
            return f"(no log: {error})"

    def stop_host(self, name: str) -> None:
        """End host *name*: its SSH master, every process in its namespaces, its veth."""
        state = self._state(name)
        del self._hosts[name]
        try:
            self._exit_master(os.path.join(self.control_dir, name))
            self._end_host(state)
        finally:
            self._write_ssh_config()
            self.inventory()

    def _end_host(self, state: _Host) -> None:
        try:
            self._kill_members(state)
        finally:
            proc = state.proc
            if proc.stdout is not None:
                proc.stdout.close()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.stop_timeout)
        if self.world.running:
            # Gone with the namespace anyway, but only once the kernel cleans it up:
            # now, so that the port's name and the address are free at once.
            self.world.run(["ip", "link", "del", state.port], "router", check=False, timeout=30)

    def processes(self, name: str) -> list[int]:
        """PIDs (as this machine numbers them) of the processes in host *name*: in its network
        or mount namespace, or in a network namespace it keeps in its ``/run/netns`` (the lab's
        containers and services)."""
        return self._members(self._state(name))

    def _namespaces(self, state: _Host, members: Sequence[int]) -> set[tuple[int, int]]:
        namespaces = {state.netns, state.mntns}
        # The host's /run is in its mount namespace only: read it through a process in there.
        for pid in [state.host.pid, *members]:
            netns_dir = f"/proc/{pid}/root/run/netns"
            if _namespace(f"/proc/{pid}/ns/mnt") != state.mntns:
                continue
            try:
                names = os.listdir(netns_dir)
            except OSError:
                continue
            for entry in names:
                found = _namespace(os.path.join(netns_dir, entry))
                if found is not None:
                    namespaces.add(found)
            break
        return namespaces

    def _members(self, state: _Host) -> list[int]:
        namespaces = {state.netns, state.mntns}
        members = _processes_in(namespaces, self._world_pidns)
        # Twice: the lab's namespaces are found through the host's processes.
        namespaces = self._namespaces(state, members)
        return _processes_in(namespaces, self._world_pidns)

    def _kill_members(self, state: _Host) -> None:
        """SIGKILL every process of the host until none is left, within the stop timeout."""
        namespaces = {state.netns, state.mntns}

        def members() -> list[int]:
            namespaces.update(self._namespaces(state, _processes_in(namespaces, self._world_pidns)))
            return _processes_in(namespaces, self._world_pidns)

        _kill_until_gone(members, f"processes of fleet host {state.host.name}", self.stop_timeout)

    def _exit_master(self, socket: str) -> None:
        """Ask the SSH master behind control socket *socket* to exit (bounded); gone is fine."""
        if not os.path.exists(socket):
            return
        try:
            subprocess.run([self._ssh, "-F", "/dev/null", "-O", "exit", "-S", socket, "fleet-master"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=5, check=False)
        except subprocess.TimeoutExpired:
            pass

    def ssh_processes(self) -> list[int]:
        """PIDs of ssh processes of this fleet (masters and clients) still running in the world."""
        if self._dir is None or self._world_pidns is None:
            return []
        # A master retitles itself "ssh: SOCKET [mux]"; a client names the fleet's
        # ssh_config or socket in its arguments: either way the fleet's directory.
        ssh = os.path.realpath(self._ssh)
        found = []
        for pid in _all_pids():
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            if (exe == ssh and _namespace(f"/proc/{pid}/ns/pid") == self._world_pidns
                    and self._dir in _cmdline(pid)):
                found.append(pid)
        return found

    def stop(self) -> None:
        """End the SSH masters, every host and its processes, and remove the fleet's directory.

        Idempotent; safe after the world stopped (then everything died with it).
        """
        if self._dir is None:
            return
        errors = []
        try:
            try:
                if os.path.isdir(self.control_dir):
                    for entry in sorted(os.listdir(self.control_dir)):
                        self._exit_master(os.path.join(self.control_dir, entry))
                self._kill_ssh_processes()
            except (OSError, WorldError) as error:
                errors.append(str(error))
            for name in list(self._hosts):
                state = self._hosts.pop(name)
                try:
                    self._end_host(state)
                except (OSError, WorldError, subprocess.SubprocessError) as error:
                    errors.append(f"{name}: {error}")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        if errors:
            raise WorldError("the fleet did not stop cleanly:\n" + "\n".join(errors))

    def _kill_ssh_processes(self) -> None:
        _kill_until_gone(self.ssh_processes, "ssh processes of the fleet", self.stop_timeout)

    def inventory(self, path: str | None = None) -> str:
        """Write the inventory of the running hosts (YAML) to *path*, default the fleet's
        ``inventory.yml`` (rewritten whenever a host comes or goes); return the path.

        Hosts are in the group ``fleet``; the connection settings are the group ``all``'s
        variables, so a host added in another inventory file gets them too.
        """
        path = path or os.path.join(self.directory, "inventory.yml")
        variables: dict[str, object] = {
            "ansible_connection": "ssh",
            "ansible_user": "root",
            "ansible_python_interpreter": self.python,
            "ansible_ssh_private_key_file": os.path.join(self.directory, "id_ed25519"),
            # -F: the fleet's ssh_config instead of ~/.ssh/config and /etc/ssh/ssh_config.
            "ansible_ssh_common_args": f"-F {self.ssh_config}",
            "ansible_host_key_checking": False,
            "ansible_pipelining": self.pipelining,
            "ansible_remote_tmp": REMOTE_TMP,
        }
        lines = [f"# nslab sandbox fleet {self.directory}", "all:", "  vars:"]
        lines += [f"    {key}: {_yaml_scalar(value)}" for key, value in variables.items()]
        lines += ["  children:", f"    {GROUP}:", "      hosts:" if self._hosts else "      hosts: {}"]
        for host in self.hosts:
            # One control socket per host, named after it and in the fleet's directory,
            # whichever ANSIBLE_SSH_CONTROL_PATH_DIR a run has: stop_host ends that master.
            lines += [f"        {host.name}:",
                      f"          ansible_host: {_yaml_scalar(host.address)}",
                      f"          ansible_control_path: {_yaml_scalar(os.path.join(self.control_dir, host.name))}"]
        temporary = f"{path}.nslab-new"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(temporary, path)
        return path

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for ``ansible``/``ansible-playbook`` on the fleet: *base* (default
        ``os.environ``) with the fleet's inventory, SSH settings and the checkout's collection.

        ``NSLAB_FLEET_INVENTORY`` and ``NSLAB_FLEET_SSH_CONFIG`` name the fleet's files for
        scripts; ``ANSIBLE_INVENTORY`` makes the fleet the default inventory.
        """
        result = dict(os.environ if base is None else base)
        inventory = os.path.join(self.directory, "inventory.yml")
        result.update({
            "NSLAB_FLEET_INVENTORY": inventory,
            "NSLAB_FLEET_SSH_CONFIG": self.ssh_config,
            "ANSIBLE_INVENTORY": inventory,
            "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(VENV, "collections"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": self.control_dir,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.directory, "ansible-local"),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
        })
        bin_dir = os.path.join(VENV, "bin")
        entries = [item for item in result.get("PATH", "").split(os.pathsep) if item]
        if os.path.isdir(bin_dir) and bin_dir not in entries:
            result["PATH"] = os.pathsep.join([bin_dir, *entries])
        return result

    # pylint: disable-next=too-many-arguments  # World.run's style; the options are keyword-only
    def playbook(self, args: Sequence[str], *, forks: int = 4, check: bool = True, timeout: float = 600,
                 cwd: str | None = None, env: Mapping[str, str] | None = None,
                 inventory: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``ansible-playbook -i INVENTORY --forks FORKS ARGS...`` in the controller (the
        world's host node) with :meth:`env` over *env*; as :meth:`World.run` otherwise.

        The working directory defaults to the fleet's directory, so files a play writes
        where it runs (the role's ``lab-HOST.md``) do not land in the checkout: give
        playbooks and variable files as absolute paths (e.g. :data:`LAB_PLAYBOOK`).
        *inventory* replaces the fleet's own (a path, or a host list such as ``"a,b,"``).
        """
        return self._ansible("ansible-playbook", args, forks=forks, check=check, timeout=timeout,
                             cwd=cwd, env=env, inventory=inventory)

    # pylint: disable-next=too-many-arguments  # as playbook()
    def ansible(self, args: Sequence[str], *, forks: int = 4, check: bool = True, timeout: float = 300,
                cwd: str | None = None, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ad hoc ``ansible -i INVENTORY --forks FORKS ARGS...`` in the controller, like :meth:`playbook`."""
        return self._ansible("ansible", args, forks=forks, check=check, timeout=timeout, cwd=cwd, env=env)

    # pylint: disable-next=too-many-arguments
    def _ansible(self, program: str, args: Sequence[str], *, forks: int, check: bool, timeout: float,
                 cwd: str | None, env: Mapping[str, str] | None,
                 inventory: str | None = None) -> subprocess.CompletedProcess[str]:
        if isinstance(args, (str, bytes)):
            raise TypeError("args must be a sequence of arguments, not a string")
        # Another inventory replaces the fleet's own (a test that leaves a running host out).
        argv = [program, "-i", inventory or self.inventory(), "--forks", str(forks), *args]
        return self.world.run(argv, "host", check=check, timeout=timeout, cwd=cwd or self.directory,
                              env=self.env(env))

    # -- commands in a host -------------------------------------------------

    def command(self, name: str, argv: Sequence[str], cwd: str | None = None) -> list[str]:
        """The command line that runs *argv* in host *name* (its network, mount and the world's PID namespace)."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of arguments, not a string (use sh() for scripts)")
        pid = self._state(name).host.pid
        if cwd is None:
            try:
                cwd = os.getcwd()
            except OSError:
                cwd = "/"
        return [self._nsenter, "-t", str(pid), "-n", "-m", "-u", "-p", f"--wd={cwd}", "--", *argv]

    def popen(self, name: str, argv: Sequence[str], *, cwd: str | None = None,
              env: Mapping[str, str] | None = None, **kwargs: Any) -> SandboxProcess:
        """Start *argv* in host *name* in the background; as :meth:`World.popen`.

        The process is the host's: :meth:`stop_host` and :meth:`stop` end it.
        """
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        return SandboxProcess(self.command(name, argv, cwd), env=dict(os.environ if env is None else env), **kwargs)

    # pylint: disable-next=too-many-arguments  # World.run's signature
    def run(self, name: str, argv: Sequence[str], *, check: bool = True, timeout: float = 120,
            input: str | None = None, env: Mapping[str, str] | None = None,  # pylint: disable=redefined-builtin
            cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run *argv* in host *name*, capture its text output, wait at most *timeout* seconds.

        Raises :class:`CommandError` when *check* and the exit status is not 0, and
        :class:`CommandTimeout` (after killing it) when it runs too long; their node is *name*.
        """
        argv = list(argv) if not isinstance(argv, (str, bytes)) else argv
        return run_captured(lambda **kwargs: self.popen(name, argv, cwd=cwd, env=env, **kwargs), name, argv,
                            check=check, timeout=timeout, input=input)

    def sh(self, name: str, script: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a bash script in host *name*; *kwargs* as for :meth:`run`."""
        return self.run(name, ["bash", "-c", script], **kwargs)

    def __repr__(self) -> str:
        if self._dir is None:
            return "<Fleet stopped>"
        return f"<Fleet {', '.join(f'{host.name}={host.address}' for host in self.hosts) or 'no hosts'}>"


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _processes_in(namespaces: set[tuple[int, int]], pid_namespace: tuple[int, int] | None) -> list[int]:
    """PIDs of the world's processes (PID namespace *pid_namespace*) in any of *namespaces*
    (network or mount). Only the world's: a namespace's inode number may be reused once it is
    freed, and the fleet must never signal a process of this machine's."""
    if pid_namespace is None:
        return []
    members = []
    for pid in _all_pids():
        if _namespace(f"/proc/{pid}/ns/pid") != pid_namespace:
            continue
        if _namespace(f"/proc/{pid}/ns/net") in namespaces or _namespace(f"/proc/{pid}/ns/mnt") in namespaces:
            members.append(pid)
    return members
