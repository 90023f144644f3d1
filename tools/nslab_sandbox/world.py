# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox world: a small private network that tests run the product in.

``unshare`` creates a new network, mount and PID namespace (the *sandbox*).
Inside it a private tmpfs covers ``/run`` (so ``/run/netns``, where
``ip netns add`` keeps its namespaces, is the sandbox's own), an overlay covers
``/etc`` (so what the product writes there, ``/etc/netns/NAME/`` say, lands in
``/run/nslab-world/etc/upper`` and this machine's ``/etc`` stays as it was) and
``/sys`` is mounted again (so it shows the sandbox's interfaces). The sandbox's own network
namespace is the **host** node, the machine the product's playbooks target.
Three more nodes are network namespaces bind-mounted on files in
``/run/nslab-world/`` (so they stay out of ``ip netns list``, which belongs to
the product)::

        host  eth0 198.51.100.2/24 ----+
                                       |  seg (bridge) 198.51.100.1/24
        other eth0 198.51.100.3/24 ----+-- router
                                          eth1 203.0.113.1/24
                                            |
        internet eth0 203.0.113.10/24 ------+   HTTP :80 echoes the client address

The router forwards but has no route to any lab subnet, so only traffic that
the host masquerades behind 198.51.100.2 gets answers from the internet node.

Lifetime: the sandbox's PID 1 is a tiny Python init that reaps orphans and
exits when its stdin (a pipe from this process, the *lifeline*) is closed,
which happens in :meth:`World.stop` or when this process dies in any way. When
PID 1 exits the kernel kills every process of the sandbox and the namespaces
go away with them.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import CommandError, CommandTimeout, WorldError
from .iptables_flavour import check_flavour, use_iptables

UPLINK = "eth0"
HOST_ADDRESS = "198.51.100.2"
ROUTER_ADDRESS = "198.51.100.1"
OTHER_ADDRESS = "198.51.100.3"
INTERNET_ADDRESS = "203.0.113.10"
ROUTER_INTERNET_ADDRESS = "203.0.113.1"
PREFIX_LENGTH = 24

WORLD_DIR = "/run/nslab-world"
#: The world's /etc overlay: what was written to /etc in the world is in ETC_DIR/upper.
ETC_DIR = f"{WORLD_DIR}/etc"
#: The source name of the sandbox's /etc overlays (``findmnt -n -o SOURCE -T /etc`` in a world).
ETC_SOURCE = "nslab-etc"
NODES = ("host", "router", "other", "internet")
#: Directory inside the sandbox with the ``nslab-node`` helper; put on PATH.
BIN_DIR = f"{WORLD_DIR}/bin"
TOOLS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_READY_MARKER = b"nslab-world-ready"
_ECHO_READY_MARKER = b"nslab-echo-ready"
_ECHO_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_http.py")
_NETNS_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

# PID 1 of the sandbox. It reaps orphans on SIGCHLD and lives as long as its
# stdin (the lifeline) is open. SIGINT is ignored so that a stray Ctrl-C
# cannot tear the world down under a running test.
_INIT_CODE = f"""
import os, signal

def reap(*_):
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGCHLD, reap)
reap()
os.write(1, {_READY_MARKER!r} + b"\\n")
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
os.dup2(null, 2)
while os.read(0, 65536):
    pass
"""

# Every link is created from the node that keeps the "eth0" end, with the peer
# sent straight to the router. The router's ends get ifindexes of their own:
# the kernel treats a carrier change of a veth whose ifindex equals its peer's
# (both 2 in fresh namespaces) as not urgent and reports it up to 1 s late,
# and until then the bridge drops the port's traffic.
_NODE_LINKS = {
    "host": ("host0", 12, HOST_ADDRESS, ROUTER_ADDRESS),
    "other": ("other0", 13, OTHER_ADDRESS, ROUTER_ADDRESS),
    "internet": ("eth1", 14, INTERNET_ADDRESS, ROUTER_INTERNET_ADDRESS),
}


def _node_batch(node: str) -> str:
    peer, peer_index, address, gateway = _NODE_LINKS[node]
    return "\n".join([
        "link set lo up",
        f"link add {UPLINK} index 2 type veth"
        f" peer name {peer} index {peer_index} netns {WORLD_DIR}/router",
        f"addr add {address}/{PREFIX_LENGTH} dev {UPLINK}",
        f"link set {UPLINK} up",
        f"route add default via {gateway}",
    ])


_ROUTER_BATCH = "\n".join([
    "link set lo up",
    "link add seg index 11 type bridge",
    "link set host0 master seg",
    "link set other0 master seg",
    f"addr add {ROUTER_ADDRESS}/{PREFIX_LENGTH} dev seg",
    f"addr add {ROUTER_INTERNET_ADDRESS}/{PREFIX_LENGTH} dev eth1",
    "link set host0 up",
    "link set other0 up",
    "link set seg up",
    "link set eth1 up",
])

_NODE_HELPER = f"""#!/bin/sh
# nslab-node NODE [--] CMD...: run CMD in another node of this nslab sandbox world.
[ $# -ge 2 ] || {{ echo "usage: nslab-node NODE [--] CMD..." >&2; exit 2; }}
node=$1; shift
[ "$1" = "--" ] && shift
case $node in
    */*|.*|"") echo "nslab-node: bad node name '$node'" >&2; exit 2;;
esac
[ -e "{WORLD_DIR}/$node" ] || {{ echo "nslab-node: no node '$node' in {WORLD_DIR}" >&2; exit 2; }}
exec nsenter --net="{WORLD_DIR}/$node" -- "$@"
"""

# Links come up asynchronously: go on only once every veth is up and every
# bridge port forwards, or fail after about 5 s.
_WAIT_FOR_LINKS = f"""
world_ready() {{
    for node in {' '.join(NODES)}; do
        nsenter --net={WORLD_DIR}/$node ip -o link show type veth | grep -qv 'state UP' && return 1
    done
    ! nsenter --net={WORLD_DIR}/router bridge link show | grep -qv 'state forwarding'
}}
tries=0
until world_ready; do
    tries=$((tries + 1))
    if [ $tries -gt 250 ]; then
        echo 'world links not up after 5 s:'
        for node in {' '.join(NODES)}; do nsenter --net={WORLD_DIR}/$node ip -br link; done
        nsenter --net={WORLD_DIR}/router bridge link show
        exit 1
    fi
    sleep 0.02
done
"""


def private_etc_script(directory: str, *, read_only_submounts: bool, upper: str | None = None,
                       work: str | None = None, index_off: bool = False) -> str:
    """Shell lines that mount an overlay over /etc whose upper and work folders are *upper* and
    *work* (default: in *directory*, on the tmpfs of a private /run; both on one file system):
    writes to /etc land there, the /etc below stays as it was.

    Mounts on paths under /etc (a container's /etc/hosts, the world's /etc/alternatives) would be
    hidden by the overlay, which shows the folder under them: they are moved aside and back on
    top of it. With *read_only_submounts* they come back read-only: a file bind-mounted from
    this machine (Docker's /etc/resolv.conf) must not be written through. Paths with characters
    other than letters, digits and ``._/+@:-`` stay hidden. Runs in a private mount namespace only.
    *index_off*: for an upper folder that outlives the lower one (a disk under a new world's /etc
    after a reboot), which a kernel whose overlays index by default would refuse.
    """
    remount = ('for under in $(findmnt -rn -o TARGET -R "$point"); do mount -o remount,bind,ro "$under"; done'
               if read_only_submounts else ":")
    upper = upper or f"{directory}/upper"
    work = work or f"{directory}/work"
    return f"""
mkdir -p {shlex.quote(upper)} {shlex.quote(work)} {directory}/kept
kept= count=0 points=
# Field 5 of mountinfo is the mount point; read by the shell alone (no process when there is
# none), all of it before anything moves.
while read -r _ _ _ _ point _; do
    case $point in /etc/*) ;; *) continue ;; esac
    case $point in *[!A-Za-z0-9._/+@:-]*) continue ;; esac
    points="$points $point"
done </proc/self/mountinfo
for point in $points; do
    # A mount under one already moved went with it; one mounted twice is moved once.
    mountpoint -q "$point" || continue
    count=$((count + 1)) aside={directory}/kept/$count
    if [ -d "$point" ]; then mkdir "$aside"; else touch "$aside"; fi
    mount --move "$point" "$aside"
    kept="$kept $aside=$point"
done
mount -t overlay {ETC_SOURCE} -o {shlex.quote(f"lowerdir=/etc,upperdir={upper},workdir={work}" + (",index=off" if index_off else ""))} /etc
for entry in $kept; do
    aside=${{entry%%=*}} point=${{entry#*=}}
    mount --move "$aside" "$point"
    {remount}
done
"""


def _sysctls(node: str) -> str:
    forward = 1 if node == "router" else 0
    return (f"echo {forward} >/proc/sys/net/ipv4/ip_forward; "
            "if [ -d /proc/sys/net/ipv6 ]; then "
            "echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad; "
            "echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad; fi")


def _setup_script() -> str:
    def in_node(node: str, command: str) -> str:
        return f"nsenter --net={WORLD_DIR}/{node} {command}"

    lines = [
        "set -eu",
        # Private /run: /run/netns and the world's files exist only in here.
        "mount -t tmpfs -o mode=755 nslab-run /run",
        # Private /etc: an overlay, its changes in the world's /run.
        private_etc_script(ETC_DIR, read_only_submounts=True),
        f"mkdir -p /run/netns {BIN_DIR}",
        "mount -t sysfs sysfs /sys",
        f"touch {WORLD_DIR}/host",
        f"mount --bind /proc/self/ns/net {WORLD_DIR}/host",
    ]
    for node in ("router", "other", "internet"):
        lines += [f"touch {WORLD_DIR}/{node}", f"unshare --net={WORLD_DIR}/{node} true"]
    # New namespaces may copy ip_forward from the real machine: make it
    # explicit. No IPv6 duplicate address detection: addresses would stay
    # "tentative" for a second after start, and snapshots taken in the world
    # (or tests that use IPv6) would see them change on their own.
    for node in NODES:
        lines += [in_node(node, f"sh -c '{_sysctls(node)}'")]
    for node in ("host", "other", "internet"):
        lines += [in_node(node, f"ip -batch - <<'EOF'\n{_node_batch(node)}\nEOF")]
    lines += [in_node("router", f"ip -batch - <<'EOF'\n{_ROUTER_BATCH}\nEOF")]
    lines += [
        _WAIT_FOR_LINKS,
        f"cat >{BIN_DIR}/nslab-node <<'EOF'\n{_NODE_HELPER}EOF",
        f"chmod 755 {BIN_DIR}/nslab-node",
        """exec "$NSLAB_WORLD_PYTHON" -I -c 'import os; exec(os.environ["NSLAB_WORLD_INIT"])'""",
    ]
    return "\n".join(lines) + "\n"


class SandboxProcess(subprocess.Popen):
    """A process started in the world with :meth:`World.popen`.

    The Popen object is ``nsenter``, which forks the command into the sandbox
    and waits for it. nsenter does not pass signals on, and when it dies
    first the command is orphaned to the *real* machine's init (its parent
    lives outside the sandbox), which may take its time to reap it and so
    delays the world's teardown. So signals go to the command's process
    group (a session of its own by default) minus nsenter, and nsenter then
    exits by itself with the command's status.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._own_group = bool(kwargs.get("start_new_session"))
        super().__init__(*args, **kwargs)

    def send_signal(self, sig: int) -> None:  # pylint: disable=arguments-renamed  # CPython calls it sig
        # Only while nsenter is not reaped: its PID, and so the group ID, is
        # still ours then and cannot name someone else's processes.
        self.poll()
        if self.returncode is not None:
            return
        members = _group_members(self.pid) if self._own_group else _children(self.pid)
        for pid in members:
            if pid != self.pid:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        if not [pid for pid in members if pid != self.pid]:
            # The command is gone or not forked yet: nsenter is all there is.
            super().send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the command; nsenter too if it does not exit within 5 s."""
        self.send_signal(signal.SIGKILL)
        try:
            self.wait(timeout=5)
        except subprocess.TimeoutExpired:
            super().send_signal(signal.SIGKILL)


def _group_members(pgid: int) -> list[int]:
    """PIDs (outside view) of the processes in process group *pgid*."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry))
    return members


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def run_captured(start: Any, node: str, argv: Sequence[str], *, check: bool, timeout: float,
                 input: str | None) -> subprocess.CompletedProcess[str]:  # pylint: disable=redefined-builtin
    """Run what ``start(**popen_kwargs)`` starts (a :class:`SandboxProcess` in *node*), capture
    its text output, wait at most *timeout* seconds; :meth:`World.run` and the fleet's run."""
    proc = start(stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    with proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                stdout, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                # Something outside the process group still holds the pipes.
                stdout, stderr = "", ""
            raise CommandTimeout(node, argv, timeout, stdout, stderr) from None
    if check and proc.returncode != 0:
        raise CommandError(node, argv, proc.returncode, stdout, stderr)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def world_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in the world.

    That is *env* (default: ``os.environ``) with ``NSLAB_WORLD`` set, the
    ``nslab-node`` helper on ``PATH`` and this package on ``PYTHONPATH`` (for
    ``python -m nslab_sandbox node``).
    """
    result = dict(os.environ if env is None else env)
    result.setdefault("NSLAB_WORLD", WORLD_DIR)
    for name, entry in (("PATH", BIN_DIR), ("PYTHONPATH", TOOLS_DIR)):
        entries = [item for item in result.get(name, "").split(os.pathsep) if item]
        if entry not in entries:
            result[name] = os.pathsep.join([entry, *entries])
    return result


def _read_until(fd: int, marker: bytes, timeout: float) -> tuple[bool, bytes]:
    """Read *fd* until *marker*, end of file or *timeout*; say whether the marker came."""
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while marker not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, data
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return False, data
            data += chunk
    return True, data


def _find_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not path:
        raise WorldError(f"{name!r} not found: the sandbox needs util-linux (unshare, nsenter)"
                         " and iproute2 (ip)")
    return path


class World:
    """A private network world to run the product in; see the module docstring.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    Commands run in a node with :meth:`run`, :meth:`sh` or :meth:`popen`;
    *node* is one of :data:`NODES` or ``"netns:NAME"`` for a namespace that the
    product created in the host with ``ip netns add NAME``.
    """

    UPLINK = UPLINK
    HOST_ADDRESS = HOST_ADDRESS
    ROUTER_ADDRESS = ROUTER_ADDRESS
    OTHER_ADDRESS = OTHER_ADDRESS
    INTERNET_ADDRESS = INTERNET_ADDRESS
    WORLD_DIR = WORLD_DIR
    ETC_DIR = ETC_DIR
    NODES = NODES

    def __init__(self, start_timeout: float = 30.0, stop_timeout: float = 10.0, *,
                 iptables: str | None = None) -> None:
        """*iptables*: "nft" or "legacy" makes ``iptables`` in the world that flavour from the
        start (see :func:`nslab_sandbox.iptables_flavour.use_iptables`); None keeps this machine's.
        The attribute ``iptables`` holds the flavour chosen last (None: never chosen).
        """
        if iptables is not None:
            check_flavour(iptables)
        self.iptables = iptables
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._unshare: subprocess.Popen[bytes] | None = None
        self._init_pid: int | None = None
        self._echo: SandboxProcess | None = None
        self._nsenter = ""

    # -- lifetime -------------------------------------------------------

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the sandbox is up (started, not stopped, PID 1 alive)."""
        return self._unshare is not None and self._unshare.poll() is None

    @property
    def unshare_pid(self) -> int | None:
        """PID of the ``unshare`` process that holds the sandbox (seen from outside)."""
        return self._unshare.pid if self._unshare else None

    @property
    def init_pid(self) -> int | None:
        """PID of the sandbox's PID 1 as seen from outside, the target for ``nsenter -t``."""
        return self._init_pid

    def pids(self) -> list[int]:
        """PIDs (seen from outside) of the processes this world started for itself."""
        pids = [proc.pid for proc in (self._unshare, self._echo) if proc is not None]
        return pids + ([self._init_pid] if self._init_pid else [])

    def start(self) -> World:
        """Create the sandbox, build the nodes and start the internet's HTTP server."""
        if self._unshare is not None:
            raise WorldError("world already started")
        if os.geteuid() != 0:
            raise WorldError("the sandbox world needs root (it creates namespaces)")
        self._nsenter = _find_tool("nsenter")
        argv = [_find_tool("unshare"), "--net", "--mount", "--pid", "--fork", "--mount-proc",
                "--kill-child", "--", "sh", "-c", 'eval "$NSLAB_WORLD_SETUP"']
        # The scripts travel in the environment to keep `ps` readable.
        env = dict(os.environ, NSLAB_WORLD_SETUP=_setup_script(), NSLAB_WORLD_INIT=_INIT_CODE,
                   NSLAB_WORLD_PYTHON=sys.executable)
        # A session of its own keeps terminal signals (Ctrl-C) away from it.
        # pylint: disable-next=consider-using-with  # lives until stop()
        self._unshare = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            self._wait_ready()
            self._init_pid = self._find_init_pid()
            if self.iptables is not None:
                use_iptables(self, self.iptables)
            self._start_echo_server()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._unshare is not None and self._unshare.stdout is not None
        stdout = self._unshare.stdout.fileno()
        ready, output = _read_until(stdout, _READY_MARKER, self.start_timeout)
        self._unshare.stdout.close()
        if not ready:
            text = output.decode("utf-8", "replace").strip()
            try:
                # End of output normally means it has exited, or is about to.
                status = self._unshare.wait(timeout=1)
                why = f"failed (exit status {status})"
            except subprocess.TimeoutExpired:
                why = f"was not ready after {self.start_timeout} s"
            raise WorldError(f"sandbox setup {why}; its output:\n{text}")

    def _find_init_pid(self) -> int:
        assert self._unshare is not None
        path = f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children"
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                with open(path, encoding="ascii") as handle:
                    children = handle.read().split()
            except OSError as error:
                raise WorldError(f"cannot read {path}: {error}") from error
            if children:
                return int(children[0])
            time.sleep(0.01)
        raise WorldError(f"the sandbox's PID 1 did not show up in {path}")

    def _start_echo_server(self) -> None:
        argv = [sys.executable, "-I", _ECHO_SCRIPT, "--port", "80"]
        self._echo = self.popen(argv, node="internet", cwd="/", stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert self._echo.stdout is not None
        stdout = self._echo.stdout.fileno()
        ready, output = _read_until(stdout, _ECHO_READY_MARKER, self.start_timeout)
        # It prints nothing more; a closed pipe is better than one nobody reads.
        self._echo.stdout.close()
        if not ready:
            text = output.decode("utf-8", "replace").strip()
            raise WorldError(f"HTTP server of the internet node did not come up: {argv}\n{text}")

    def stop(self) -> None:
        """Tear the sandbox down and wait until all its processes are gone. Idempotent."""
        proc = self._unshare
        if proc is None:
            return
        try:
            # Closing the lifeline makes PID 1 exit; the kernel then kills the
            # rest. unshare blocks SIGTERM while waiting for its child, so
            # the fallback is SIGKILL, which --kill-child passes on to PID 1.
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired as error:
                    raise WorldError(f"unshare (PID {proc.pid}) did not die after SIGKILL") from error
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            self._reap_echo()
            self._unshare = None
            self._init_pid = None

    def _reap_echo(self) -> None:
        echo, self._echo = self._echo, None
        if echo is None:
            return
        try:
            echo.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            echo.kill()
            echo.wait(timeout=self.stop_timeout)

    # -- running commands ----------------------------------------------

    def command(self, argv: Sequence[str], node: str = "host", cwd: str | None = None) -> list[str]:
        """The command line that runs *argv* in *node* (for callers that spawn it themselves)."""
        if self._unshare is None or self._init_pid is None:
            raise WorldError("world not started")
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of arguments, not a string (use sh() for scripts)")
        pid = str(self._init_pid)
        if cwd is None:
            try:
                cwd = os.getcwd()
            except OSError:
                cwd = "/"
        enter = [self._nsenter, "-t", pid, "-m", "-p", f"--wd={cwd}"]
        if node == "host":
            return [*enter, "-n", "--", *argv]
        if node in NODES:
            # The node file exists only in the sandbox's mount namespace, which
            # /proc/PID/root leads into.
            return [*enter, f"--net=/proc/{pid}/root{WORLD_DIR}/{node}", "--", *argv]
        if node.startswith("netns:") and _NETNS_NAME.fullmatch(node[6:]):
            return [*enter, "-n", "--", "ip", "netns", "exec", node[6:], *argv]
        raise ValueError(f"unknown node {node!r}: use one of {', '.join(NODES)} or 'netns:NAME'")

    def popen(self, argv: Sequence[str], node: str = "host", *, cwd: str | None = None,
              env: Mapping[str, str] | None = None, **kwargs: Any) -> SandboxProcess:
        """Start *argv* in *node* in the background.

        *kwargs* go to :class:`subprocess.Popen` (stdin defaults to /dev/null,
        and the process gets a session of its own). The caller terminates it;
        at the latest it dies with the world.
        """
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        return SandboxProcess(self.command(argv, node, cwd), env=world_env(env), **kwargs)

    # pylint: disable-next=too-many-arguments  # subprocess.run's style; the options are keyword-only
    def run(self, argv: Sequence[str], node: str = "host", *, check: bool = True, timeout: float = 120,
            input: str | None = None, env: Mapping[str, str] | None = None,  # pylint: disable=redefined-builtin
            cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run *argv* in *node*, capture its text output, wait at most *timeout* seconds.

        Raises :class:`CommandError` when *check* and the exit status is not 0,
        and :class:`CommandTimeout` (after killing it) when it runs too long.
        """
        argv = list(argv) if not isinstance(argv, (str, bytes)) else argv
        return run_captured(lambda **kwargs: self.popen(argv, node, cwd=cwd, env=env, **kwargs), node, argv,
                            check=check, timeout=timeout, input=input)

    def sh(self, script: str, node: str = "host", **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a bash script in *node*; *kwargs* as for :meth:`run`."""
        return self.run(["bash", "-c", script], node, **kwargs)

    def __repr__(self) -> str:
        state = f"init PID {self._init_pid}" if self.running else "stopped"
        return f"<World {state}>"
