# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the sandbox host look like a machine that runs Docker 28.

Docker is the firewall neighbour the product most often shares a host with, so
tests start from what Docker 28 leaves on a host with its default bridge
network and one container, 172.17.0.2, publishing port 80 as 8080
(``docker run -p 8080:80 ...``), with default settings (iptables backend,
userland proxy on, so no hairpin MASQUERADE rule). The rules are those of the
28.x releases whose DOCKER-CT and DOCKER-BRIDGE chains replaced 28.0's ipset
matches; DOCKER-USER is empty (older releases put a RETURN rule there).
Docker 29's DOCKER-INTERNAL chain is not modelled. That is:

* the ``docker0`` bridge with 172.17.0.1/16, up, and IPv4 forwarding on;
* filter: FORWARD policy DROP (Docker sets it when it turns forwarding on
  itself); FORWARD jumps to DOCKER-USER, then DOCKER-FORWARD, which runs
  DOCKER-CT (replies), DOCKER-ISOLATION-STAGE-1/2 (between bridge networks),
  DOCKER-BRIDGE (into DOCKER: the published port, else drop) and accepts what
  leaves docker0;
* nat: PREROUTING and OUTPUT jump to DOCKER for local addresses, which DNATs
  8080 to the container; POSTROUTING masquerades 172.17.0.0/16;
* raw: PREROUTING drops traffic to the container's address that does not come
  from docker0 (Docker 28's protection against direct access from the LAN).

The rules are loaded with the sandbox's current ``iptables-restore --noflush``,
so they live in whichever flavour :func:`~nslab_sandbox.iptables_flavour.use_iptables`
chose. :data:`DOCKER_LINES` is how ``iptables-save`` shows them, and
:func:`docker_lines` picks Docker's lines out of any saved ruleset so that a
test can assert the product left every one of them byte for byte.
"""

from __future__ import annotations

import re

from .iptables_flavour import iptables_save, ruleset_lines
from .world import World

DOCKER_BRIDGE = "docker0"
DOCKER_GATEWAY = "172.17.0.1"
DOCKER_SUBNET = "172.17.0.0/16"
DOCKER_CONTAINER = "172.17.0.2"
DOCKER_HOST_PORT = 8080
DOCKER_CONTAINER_PORT = 80

_DOCKER_CHAINS = ("DOCKER", "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-FORWARD", "DOCKER-ISOLATION-STAGE-1",
                  "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER")

#: Docker's lines per table as a normalized ``iptables-save`` prints them (and
#: as :func:`docker_lines` returns them): the FORWARD policy, chain
#: declarations, then rules chain by chain (built-in chains first, the others
#: by name), each chain's rules in Docker's order.
DOCKER_LINES: dict[str, list[str]] = {
    "raw": [
        f"-A PREROUTING -d {DOCKER_CONTAINER}/32 ! -i {DOCKER_BRIDGE} -j DROP",
    ],
    "filter": [
        ":FORWARD DROP [0:0]",
        *(f":{chain} - [0:0]" for chain in _DOCKER_CHAINS),
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-FORWARD",
        f"-A DOCKER -d {DOCKER_CONTAINER}/32 ! -i {DOCKER_BRIDGE} -o {DOCKER_BRIDGE} -p tcp -m tcp"
        f" --dport {DOCKER_CONTAINER_PORT} -j ACCEPT",
        f"-A DOCKER ! -i {DOCKER_BRIDGE} -o {DOCKER_BRIDGE} -j DROP",
        f"-A DOCKER-BRIDGE -o {DOCKER_BRIDGE} -j DOCKER",
        f"-A DOCKER-CT -o {DOCKER_BRIDGE} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A DOCKER-FORWARD -j DOCKER-CT",
        "-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A DOCKER-FORWARD -j DOCKER-BRIDGE",
        f"-A DOCKER-FORWARD -i {DOCKER_BRIDGE} -j ACCEPT",
        f"-A DOCKER-ISOLATION-STAGE-1 -i {DOCKER_BRIDGE} ! -o {DOCKER_BRIDGE} -j DOCKER-ISOLATION-STAGE-2",
        f"-A DOCKER-ISOLATION-STAGE-2 -o {DOCKER_BRIDGE} -j DROP",
    ],
    "nat": [
        ":DOCKER - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A POSTROUTING -s {DOCKER_SUBNET} ! -o {DOCKER_BRIDGE} -j MASQUERADE",
        f"-A DOCKER -i {DOCKER_BRIDGE} -j RETURN",
        f"-A DOCKER ! -i {DOCKER_BRIDGE} -p tcp -m tcp --dport {DOCKER_HOST_PORT} -j DNAT"
        f" --to-destination {DOCKER_CONTAINER}:{DOCKER_CONTAINER_PORT}",
    ],
}

# A line is Docker's when it declares or fills a DOCKER* chain, jumps to one,
# or names Docker's bridge or subnet.
_DOCKER_LINE = re.compile(r"^:DOCKER[\w-]* |^-A DOCKER[\w-]* |\s-[jg] DOCKER[\w-]*(\s|$)"
                          rf"|\b{DOCKER_BRIDGE}\b|\b172\.17\.")
_FORWARD_POLICY = re.compile(r"^:FORWARD ")


def docker_restore_text() -> str:
    """The ``iptables-restore --noflush`` input that loads :data:`DOCKER_LINES`.

    Only FORWARD among the built-in chains is declared: declaring one sets its
    policy, and the others must keep whatever they have.
    """
    parts = []
    for table, lines in DOCKER_LINES.items():
        parts += [f"*{table}", *lines, "COMMIT"]
    return "\n".join(parts) + "\n"


def make_docker_like(world: World, ip_forward: bool = True) -> str:
    """Give the world's host what Docker 28 leaves there (see the module docstring).

    *ip_forward*: turn IPv4 forwarding on in the host, as Docker does. Returns
    the host's normalized ``iptables-save`` text afterwards (see
    :func:`~nslab_sandbox.iptables_flavour.iptables_save`), the baseline a
    test compares with.
    """
    world.run(["ip", "-batch", "-"], input="\n".join([
        f"link add {DOCKER_BRIDGE} type bridge",
        f"addr add {DOCKER_GATEWAY}/16 dev {DOCKER_BRIDGE}",
        f"link set {DOCKER_BRIDGE} up",
    ]) + "\n", timeout=30)
    if ip_forward:
        world.sh("echo 1 >/proc/sys/net/ipv4/ip_forward", timeout=30)
    # -w: wait for the legacy flavour's lock rather than fail when something
    # else writes at the same time (the nft flavour ignores it).
    world.run(["iptables-restore", "-w", "--noflush"], input=docker_restore_text(), timeout=60)
    return iptables_save(world)


def docker_lines(text: str) -> dict[str, list[str]]:
    """Docker's lines of a normalized iptables-save *text*, per table, in order.

    That is the filter table's FORWARD policy line, the declarations and rules
    of DOCKER* chains, jumps to DOCKER* chains from other chains, and rules
    that mention docker0 or 172.17.x.x. Tables without such lines are left out.
    """
    result: dict[str, list[str]] = {}
    for table, lines in ruleset_lines(text).items():
        chosen = [line for line in lines
                  if _DOCKER_LINE.search(line) or (table == "filter" and _FORWARD_POLICY.match(line))]
        if chosen:
            result[table] = chosen
    return result
