#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: port_publish
short_description: Publish ports of namespaces on a Linux bridge, like docker run -p
version_added: 0.1.0
description:
  - Makes ports of an address on a bridge reachable through the host, with Docker's C(-p)
    syntax C([host_ip:]host_port[-end]:container_port[-end][/tcp|udp]).
  - A published port answers on the host itself (127.0.0.1 and the host's addresses), from
    other machines on the host's addresses, and from inside the lab on the host's addresses
    (hairpin). With a I(host_ip) it answers only there; C(127.0.0.1:8000:80) is reachable
    from the host alone.
  - FORWARD accepts only connections that came through a published port, to its
    destination port. Nothing else may enter the bridge from outside, even for a neighbour
    that routes the lab subnet via this host.
  - Answering on 127.0.0.1 needs C(net.ipv4.conf.BRIDGE.route_localnet=1); the module sets it
    (and puts it back as it was when the bridge has no such port left) and drops traffic
    from non-loopback sources to 127.0.0.0/8 arriving on the bridge, so the host's
    127.0.0.1-only services stay out of the namespaces' reach (CVE-2020-8558). It also
    turns on C(net.ipv4.ip_forward) while the bridge publishes any port.
  - The value each setting had before is recorded in C(/run/nslab/sysctls.json), with the
    bridges of this module and of M(nslab.net.nat_masquerade) that need it; when the last
    of them lets it go (C(state=absent)), it is put back. A setting that already had the
    wanted value is not the module's and stays as it is.
  - A task declares all the ports of each destination it names; ports of that destination
    not listed are removed. Destinations of the same bridge not named are left alone, or
    with I(exclusive) unpublished.
  - When a published port goes or moves (to another destination or container port), and
    at removal, the connection tracking entries of the traffic that came in through it are
    deleted once the rules changed, like C(conntrack -D); otherwise a UDP client that keeps
    its source port would go on reaching the old destination. Other flows are not touched.
  - The same host port and protocol published twice where the listening addresses overlap,
    in the task or by another destination, is an error before any change.
  - Rules live in the collection's C(NSLAB-*) chains, commented C(nslab:publish:BRIDGE:ADDRESS)
    (and C(nslab:publish:BRIDGE) for the bridge's shared rules); rules of others are never
    touched. They are written where the host's own C(iptables) reads them, in one transaction
    per table, under the xtables lock.
author:
  - nslab.net contributors (@nslab)
requirements:
  - pyroute2 >= 0.7.2 on the managed host (to read the bridge's subnets)
extends_documentation_fragment:
  - nslab.net.requirements.IPTABLES
  - nslab.net.requirements.ROOT_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.firewall
  - nslab.net.state
attributes:
  check_mode:
    description: >-
      Reports the rules and settings a real run would change or put back, changing
      nothing (neither settings nor their record). A bridge
      missing in check mode is taken as one an earlier task would create; its hairpin rule,
      which needs the bridge's subnet, is then left out of the prediction, with a warning.
  diff_mode:
    description: Shows the rules and the kernel settings before and after.
options:
  bridge:
    description:
      - The bridge the destination is on. It must exist and have an IPv4 address in the
        destination's subnet. Required unless I(publish) is given.
    type: str
  destination:
    description:
      - The IPv4 address the ports are published to (a namespace's address on the bridge).
        Required with C(state=present) unless I(exclusive) is true.
      - A destination that publishes ports must be in one of the bridge's subnets; one whose
        ports go is not checked (its subnet may just have changed).
    type: str
  ports:
    description:
      - Docker C(-p) specs, C([host_ip:]host_port[-end]:container_port[-end][/tcp|udp]); the
        protocol defaults to tcp, ranges must have the same length.
    type: list
    elements: str
    default: []
  publish:
    description:
      - Many destinations in one task, each with the options above. Mutually exclusive with them.
    type: list
    elements: dict
    suboptions:
      bridge:
        description: The bridge the destination is on.
        type: str
        required: true
      destination:
        description: The address the ports are published to.
        type: str
      ports:
        description: Its Docker C(-p) specs.
        type: list
        elements: str
        default: []
  exclusive:
    description:
      - With C(state=present), unpublish every port of the bridges this task names whose
        destination the task does not list (like the I(exclusive) option of C(ansible.posix.authorized_key)).
        A destination whose address changed then moves its ports in one run, and the ports of
        a destination no longer listed go.
      - With it an item may name a bridge without a I(destination), to unpublish everything
        on that bridge while publishing elsewhere.
      - Ignored with C(state=absent).
    type: bool
    default: false
  state:
    description:
      - C(present) publishes exactly the listed ports to each destination; C(absent) removes
        the destination's published ports (I(ports) is ignored), or every port of the bridge
        when no I(destination) is given.
notes:
  - IPv4 only; a host port picked at random (C(-p 80)) is not supported.
  - Replies to other machines leave through the host's routing; to reach the Internet the
    namespaces need M(nslab.net.nat_masquerade) as well.
seealso:
  - module: nslab.net.nat_masquerade
  - module: nslab.net.bridge
'''

EXAMPLES = r'''
- name: docker run -p 8000:8000, for the namespace at 10.0.0.1 on br0
  nslab.net.port_publish:
    bridge: br0
    destination: 10.0.0.1
    ports: ["8000:8000"]

- name: Several destinations, a UDP port and a port only the host itself can reach
  nslab.net.port_publish:
    publish:
      - bridge: br0
        destination: 10.0.0.1
        ports: ["8000:80", "127.0.0.1:9000:9000"]
      - bridge: br0
        destination: 10.0.0.2
        ports: ["5353:53/udp", "8100-8102:8100-8102"]

- name: Exactly these ports on br0; ports of other destinations there go (10.0.0.1 became 10.0.0.11)
  nslab.net.port_publish:
    exclusive: true
    publish:
      - bridge: br0
        destination: 10.0.0.11
        ports: ["8000:8000"]

- name: Unpublish everything on br0
  nslab.net.port_publish:
    bridge: br0
    state: absent
'''

RETURN = r'''
backend:
  description: The iptables backend the rules were read from and written to.
  returned: always
  type: str
  sample: nft
rules:
  description:
    - The rules of the task's destinations and bridges after the run (predicted in check
      mode), as C(-t TABLE -A CHAIN ...) lines in iptables-save order.
  returned: success
  type: list
  elements: str
  sample: ["-t nat -A NSLAB-DNAT -p tcp -m tcp --dport 8000 -m comment --comment nslab:publish:br0:10.0.0.1 -j DNAT --to-destination 10.0.0.1:8000"]
sysctls:
  description:
    - The kernel settings the task needs, and those it put back (or let go), with their
      values after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {"net.ipv4.ip_forward": "1", "net.ipv4.conf.br0.route_localnet": "1"}
commands:
  description:
    - The equivalent C(iptables), C(conntrack) and C(sysctl) commands of the changes, in order.
    - A C(conntrack -D) line stands for the deletion of the flows through a port that went,
      which finds any number of them, none included.
  returned: success
  type: list
  elements: str
  sample: ["iptables -t nat -A NSLAB-DNAT -p tcp -m tcp --dport 8000 -m comment --comment nslab:publish:br0:10.0.0.1 -j DNAT --to-destination 10.0.0.1:8000"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish_task import PUBLISH_ARGS, converge_publish, in_netlink, publish_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **PUBLISH_ARGS)
    run_module(module, publish_spec, in_netlink(converge_publish))


if __name__ == '__main__':
    main()
