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
the real machine stayed untouched.
"""

from __future__ import annotations

from .world import (
    HOST_ADDRESS,
    INTERNET_ADDRESS,
    NODES,
    OTHER_ADDRESS,
    ROUTER_ADDRESS,
    UPLINK,
    WORLD_DIR,
    CommandError,
    CommandTimeout,
    SandboxProcess,
    World,
    WorldError,
)

__all__ = [
    "HOST_ADDRESS",
    "INTERNET_ADDRESS",
    "NODES",
    "OTHER_ADDRESS",
    "ROUTER_ADDRESS",
    "UPLINK",
    "WORLD_DIR",
    "CommandError",
    "CommandTimeout",
    "SandboxProcess",
    "World",
    "WorldError",
]
