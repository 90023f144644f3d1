# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab of a benchmark size, two ways: the seeds' shell walkthrough and the role's variables.

Both describe the same lab: N namespaces ns1..nsN on br0 (10.0.0.0/24 for N <= 253, else a
wider subnet), NAT out of the host's uplink, and P published TCP ports spread round-robin
over the namespaces: host port 10000+j to port 8000+j of namespace (j mod N) + 1.

The shell script is what a user types following the seeds (shared/seeds/): one ``ip``,
``sysctl`` or ``iptables`` command per step, nine steps per namespace and four rules per
published port (DNAT from outside and from the host itself, hairpin masquerade, forward
accept), as docker-networking-by-hand.txt writes them. Its teardown is the same steps
undone, one command each.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

BRIDGE = "br0"
FIRST_HOST_PORT = 10000
FIRST_CONTAINER_PORT = 8000


@dataclass(frozen=True)
class Port:
    host: int
    netns: str
    address: str
    container: int


@dataclass(frozen=True)
class Lab:
    """N namespaces and P published ports, addressed as the role's allocation would."""

    namespaces: int
    ports: int
    uplink: str = "eth0"

    def __post_init__(self) -> None:
        if self.namespaces < 1 or self.ports < 0:
            raise ValueError(f"need at least one namespace and no negative ports: N={self.namespaces} P={self.ports}")
        if self.ports and FIRST_HOST_PORT + self.ports > 65536:
            raise ValueError(f"P={self.ports}: host ports from {FIRST_HOST_PORT} would pass 65535")

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        # /24 as in the seeds while it fits the namespaces and the gateway, else the smallest
        # wider one.
        prefix = 24
        while ipaddress.ip_network(f"10.0.0.0/{prefix}").num_addresses - 3 < self.namespaces:
            prefix -= 1
        return ipaddress.ip_network(f"10.0.0.0/{prefix}")

    @property
    def gateway(self) -> str:
        return str(self.subnet.broadcast_address - 1)

    def names(self) -> list[str]:
        return [f"ns{k}" for k in range(1, self.namespaces + 1)]

    def address(self, k: int) -> str:
        return str(self.subnet.network_address + k)

    def published(self) -> list[Port]:
        ports = []
        for j in range(self.ports):
            k = j % self.namespaces + 1
            ports.append(Port(FIRST_HOST_PORT + j, f"ns{k}", self.address(k), FIRST_CONTAINER_PORT + j))
        return ports

    def role_variables(self) -> dict:
        """The same lab for playbooks/lab.yml (explicit addresses: both sides build one lab)."""
        by_netns: dict[str, list[str]] = {name: [] for name in self.names()}
        for port in self.published():
            by_netns[port.netns].append(f"{port.host}:{port.container}")
        namespaces = []
        for k, name in enumerate(self.names(), start=1):
            entry: dict = {"name": name, "address": self.address(k)}
            if by_netns[name]:
                entry["publish"] = by_netns[name]
            namespaces.append(entry)
        return {
            "lab_bridge": BRIDGE,
            "lab_subnet": str(self.subnet),
            "lab_gateway": self.gateway,
            "lab_uplink": self.uplink,
            "lab_namespaces": namespaces,
        }

    def _rules(self) -> list[tuple[str, str, str]]:
        """(table, chain, rule) in the order the walkthrough appends them."""
        subnet, bridge, uplink = self.subnet, BRIDGE, self.uplink
        rules = [
            ("nat", "POSTROUTING", f"-s {subnet} -o {uplink} -j MASQUERADE"),
            ("filter", "FORWARD", f"-i {bridge} -o {uplink} -j ACCEPT"),
            ("filter", "FORWARD", f"-i {uplink} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            ("nat", "POSTROUTING", f"-o {bridge} -m addrtype --src-type LOCAL -j MASQUERADE"),
            ("filter", "FORWARD", f"-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            ("filter", "FORWARD", f"-i {bridge} -o {bridge} -j ACCEPT"),
        ]
        for port in self.published():
            target = f"{port.address}:{port.container}"
            match = f"-p tcp -m tcp --dport {port.host}"
            rules += [
                ("nat", "PREROUTING", f"-m addrtype --dst-type LOCAL {match} -j DNAT --to-destination {target}"),
                ("nat", "OUTPUT", f"-m addrtype --dst-type LOCAL {match} -j DNAT --to-destination {target}"),
                ("nat", "POSTROUTING",
                 f"-s {port.address} -d {port.address} -p tcp -m tcp --dport {port.container} -j MASQUERADE"),
                ("filter", "FORWARD",
                 f"-d {port.address} ! -i {bridge} -o {bridge} -p tcp -m tcp --dport {port.container} -j ACCEPT"),
            ]
        return rules

    def shell_up(self) -> str:
        lines = [
            f"ip link add {BRIDGE} type bridge",
            f"ip addr add {self.gateway}/{self.subnet.prefixlen} dev {BRIDGE}",
            f"ip link set {BRIDGE} up",
            "sysctl -qw net.ipv4.ip_forward=1",
            f"sysctl -qw net.ipv4.conf.{BRIDGE}.route_localnet=1",
        ]
        for k, name in enumerate(self.names(), start=1):
            veth = f"veth{k}"
            lines += [
                f"ip netns add {name}",
                f"ip link add {veth} type veth peer name {veth}-br",
                f"ip link set {veth}-br master {BRIDGE}",
                f"ip link set {veth}-br up",
                f"ip link set {veth} netns {name}",
                f"ip -n {name} addr add {self.address(k)}/{self.subnet.prefixlen} dev {veth}",
                f"ip -n {name} link set {veth} up",
                f"ip -n {name} link set lo up",
                f"ip -n {name} route add default via {self.gateway}",
            ]
        lines += [f"iptables -t {table} -A {chain} {rule}" for table, chain, rule in self._rules()]
        return _script(lines)

    def shell_down(self) -> str:
        lines = [f"iptables -t {table} -D {chain} {rule}" for table, chain, rule in reversed(self._rules())]
        # A namespace's end of its veth pair dies with the namespace, and the bridge end with it.
        lines += [f"ip netns del {name}" for name in self.names()]
        lines += [f"ip link del {BRIDGE}", "sysctl -qw net.ipv4.ip_forward=0"]
        return _script(lines)


def _script(lines: list[str]) -> str:
    return "set -e\n" + "\n".join(lines) + "\n"
