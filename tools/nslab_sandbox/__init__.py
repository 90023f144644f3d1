# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox world for nslab.net tests, demos and benchmarks.

A :class:`World` is a set of network namespaces inside a private PID and mount
namespace, so that the product can build bridges, veths and NAT rules without
ever touching the network of the machine it runs on::

    with World() as world:
        world.run(["ip", "netns", "add", "c1"])
        print(world.run(["curl", "-s", "http://203.0.113.10/"]).stdout)

See ``world.py`` for the topology and ``host_snapshot.py`` for the check that
the real machine stayed untouched. ``iptables_flavour.py`` makes ``iptables``
in a world the nft or the legacy flavour (``World(iptables="legacy")``),
``docker_host.py`` gives the host the firewall that Docker 28 leaves, and
``iptables_churn.py`` is another tool writing rules while the product runs.
``errors.py`` holds the exceptions all of them raise. ``dns_server.py`` is a small DNS
server to run in a node, and ``resolver_host.py`` makes the world's host a systemd-resolved,
plain or dnsmasq-like resolver host with "the internet's" DNS server (:class:`ResolverHost`).

The files import one another in one direction only: ``errors``, then
``iptables_flavour`` (which acts on anything shaped like a world), then
``world``, then the tools that need a started world (``docker_host``, ``resolver_host``).
"""

from __future__ import annotations

from .docker_host import DOCKER_LINES, docker_lines, make_docker_like
from .errors import CommandError, CommandTimeout, WorldError
from .iptables_churn import churn_command, churn_lines, expected_churn_lines
from .iptables_flavour import (
    FLAVOURS,
    current_flavour,
    iptables_save,
    normalize_save,
    ruleset_lines,
    use_iptables,
)
from .resolver_host import ResolverHost
from .world import (
    HOST_ADDRESS,
    INTERNET_ADDRESS,
    NODES,
    OTHER_ADDRESS,
    ROUTER_ADDRESS,
    UPLINK,
    WORLD_DIR,
    SandboxProcess,
    World,
)

__all__ = [
    "DOCKER_LINES",
    "FLAVOURS",
    "HOST_ADDRESS",
    "INTERNET_ADDRESS",
    "NODES",
    "OTHER_ADDRESS",
    "ROUTER_ADDRESS",
    "ResolverHost",
    "UPLINK",
    "WORLD_DIR",
    "CommandError",
    "CommandTimeout",
    "SandboxProcess",
    "World",
    "WorldError",
    "churn_command",
    "churn_lines",
    "current_flavour",
    "docker_lines",
    "expected_churn_lines",
    "iptables_save",
    "make_docker_like",
    "normalize_save",
    "ruleset_lines",
    "use_iptables",
]
