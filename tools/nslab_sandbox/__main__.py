# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line of the sandbox world.

    python -m nslab_sandbox run [--] CMD [ARG...]   run CMD in the host node of a new world
    python -m nslab_sandbox shell                   interactive bash in the host node of a new world
    python -m nslab_sandbox fleet [--hosts N] [--iptables nft|legacy] [--] CMD...
                                                    CMD in the host node of a new world with N hosts over SSH
    python -m nslab_sandbox node NODE [--] CMD...   (inside a world) run CMD in another node
    python -m nslab_sandbox dns [--bind ADDR] [--forward ADDR] [NAME=ADDRESS...]
                                                    a DNS server (see dns_server.py), e.g. in a node

``run`` and ``shell`` start a world, run the command in its host node with the
terminal, the working directory and the environment passed through (plus
``NSLAB_WORLD``, ``nslab-node`` on PATH and this package on PYTHONPATH), stop
the world and exit with the command's status (128+N when killed by signal N).

``fleet`` does the same with a :class:`~nslab_sandbox.fleet.Fleet` of N hosts
(default 3: fleet1 198.51.100.11, fleet2 .12, ...) that sshd serves, in a world
whose iptables is the given flavour (default: this machine's). The host node is
their Ansible controller: CMD gets ``NSLAB_FLEET_INVENTORY`` (the inventory's
path, also ``ANSIBLE_INVENTORY``), ``NSLAB_FLEET_SSH_CONFIG`` (``ssh -F "$NSLAB_FLEET_SSH_CONFIG"
fleet1``), the fleet's private SSH settings for Ansible and the checkout's .venv/bin on PATH,
e.g. ``python -m nslab_sandbox fleet --hosts 3 -- sh -c 'ansible all -i "$NSLAB_FLEET_INVENTORY" -m ping'``
or ``... fleet -- ansible-playbook playbooks/lab.yml --forks 4``. Files a playbook writes into
the working directory (the role's lab-HOST.md) land in the caller's working directory.

``node`` works only inside a world: NODE is router, other, internet, host or
``netns:NAME``, e.g. ``python -m nslab_sandbox node other -- curl -s http://198.51.100.2:8000/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from . import dns_server
from .errors import WorldError
from .fleet import MAX_HOSTS, Fleet
from .iptables_flavour import FLAVOURS
from .world import NODES, WORLD_DIR, World, world_env

_PROG = "python -m nslab_sandbox"


class _Terminated(Exception):
    """This process was asked to stop (SIGTERM or SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _usage(message: str = "") -> int:
    if message:
        print(f"{_PROG}: {message}", file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


def _strip_dashes(argv: Sequence[str]) -> list[str]:
    return list(argv[1:]) if argv and argv[0] == "--" else list(argv)


def _on_terminate(signum: int, _frame: FrameType | None) -> None:
    raise _Terminated(signum)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def run_in_world(argv: Sequence[str], *, hosts: int | None = None, iptables: str | None = None) -> int:
    """Start a world, run *argv* in its host node attached to our terminal, stop the world.

    With *hosts*, the world has a fleet of that many hosts and *argv* its environment
    (see :meth:`Fleet.env`); *iptables* is the world's flavour.
    """
    if os.geteuid() != 0:
        print(f"{_PROG}: the sandbox world needs root (it creates namespaces)", file=sys.stderr)
        return 1
    handled = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
    previous = {signum: signal.getsignal(signum) for signum in handled}
    signal.signal(signal.SIGTERM, _on_terminate)
    signal.signal(signal.SIGHUP, _on_terminate)
    world = World(iptables=iptables)
    fleet: Fleet | None = None
    proc: subprocess.Popen[bytes] | None = None
    status = 1
    try:
        world.start()
        env = world_env()
        if hosts is not None:
            fleet = Fleet(world, count=hosts).start()
            env = world_env(fleet.env())
        # Ctrl-C and Ctrl-\ reach the command too (same foreground process
        # group): let it decide, and stop the world only once it has exited.
        # nsenter and the sh below inherit the ignored dispositions (so they
        # survive to report the status), `env` gives the command the default
        # ones back, and sh turns death by signal N into status 128+N, which
        # nsenter, ignoring that signal, could not pass on.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        wrapper = ["sh", "-c", 'env --default-signal=INT,QUIT -- "$@"; exit $?', "sh"]
        command = world.command([*wrapper, *argv], "host")
        # pylint: disable-next=consider-using-with  # waited for below or killed with the world
        proc = subprocess.Popen(command, env=env)
        status = _exit_status(proc.wait())
    except _Terminated as stop:
        status = 128 + stop.signum
    except KeyboardInterrupt:
        status = 128 + signal.SIGINT
    except WorldError as error:
        print(f"{_PROG}: {error}", file=sys.stderr)
        status = 1
    finally:
        try:
            if fleet is not None:
                fleet.stop()
        except WorldError as error:
            # A fleet that leaves processes behind must not pass unnoticed.
            print(f"{_PROG}: {error}", file=sys.stderr)
            status = status or 1
        finally:
            world.stop()
        if proc is not None and proc.poll() is None:
            # The command died with the world; nsenter exits right after it.
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def _fleet_options(args: Sequence[str]) -> tuple[int, str | None, list[str]] | str:
    """``[--hosts N] [--iptables FLAVOUR] [--] CMD...`` -> (hosts, flavour, CMD), or what is wrong."""
    hosts, iptables = 3, None
    rest = list(args)
    while rest and rest[0].startswith("--") and rest[0] != "--":
        option, has_value, value = rest.pop(0).partition("=")
        if option not in ("--hosts", "--iptables"):
            return f"fleet: unknown option {option!r}"
        if not has_value:
            if not rest:
                return f"fleet: {option} needs a value"
            value = rest.pop(0)
        if option == "--hosts":
            if not value.isdigit() or not 1 <= int(value) <= MAX_HOSTS:
                return f"fleet: --hosts takes a number of hosts from 1 to {MAX_HOSTS}, not {value!r}"
            hosts = int(value)
        else:
            if value not in FLAVOURS:
                return f"fleet: --iptables takes {' or '.join(FLAVOURS)}, not {value!r}"
            iptables = value
    command = _strip_dashes(rest)
    if not command:
        return "fleet: missing command to run"
    return hosts, iptables, command


def run_in_node(node: str, argv: Sequence[str]) -> int:
    """From inside a world, replace this process by *argv* running in *node*."""
    if not os.path.isdir(WORLD_DIR):
        print(f"{_PROG} node: not inside an nslab sandbox world ({WORLD_DIR} does not exist); "
              f"start one with `{_PROG} run` or scripts/sandbox", file=sys.stderr)
        return 2
    if node.startswith("netns:"):
        command = ["ip", "netns", "exec", node[len("netns:"):], *argv]
    else:
        path = os.path.join(WORLD_DIR, node)
        if node not in NODES or not os.path.exists(path):
            print(f"{_PROG} node: no node {node!r} in {WORLD_DIR} (nodes: {', '.join(NODES)}, "
                  "netns:NAME)", file=sys.stderr)
            return 2
        command = ["nsenter", f"--net={path}", "--", *argv]
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"{_PROG} node: cannot run {command[0]}: {error}", file=sys.stderr)
    return 127


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        return _usage() if args else _usage("missing command")
    action, rest = args[0], args[1:]
    if action == "run":
        rest = _strip_dashes(rest)
        return run_in_world(rest) if rest else _usage("run: missing command to run")
    if action == "shell":
        return run_in_world(["bash"]) if not rest else _usage("shell takes no arguments")
    if action == "fleet":
        parsed = _fleet_options(rest)
        if isinstance(parsed, str):
            return _usage(parsed)
        hosts, iptables, command = parsed
        return run_in_world(command, hosts=hosts, iptables=iptables)
    if action == "dns":
        return dns_server.main(rest)
    if action == "node":
        if not rest:
            return _usage("node: missing node name")
        command = _strip_dashes(rest[1:])
        return run_in_node(rest[0], command) if command else _usage("node: missing command to run")
    return _usage(f"unknown command {action!r}")


if __name__ == "__main__":
    sys.exit(main())
