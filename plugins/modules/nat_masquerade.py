#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: nat_masquerade
short_description: Outbound NAT and forwarding rules for a lab network behind a Linux bridge
version_added: 0.1.0
description:
  - Gives the namespaces on a bridge the Internet access Docker's bridge networks have, with
    iptables rules in the collection's own chains.
  - MASQUERADE for traffic from the subnet that leaves by any other interface than the bridge
    (or by I(out_interface) only); never for traffic that stays on the bridge, nor for multicast.
  - FORWARD accepts the bridge's traffic out and only replies (conntrack RELATED,ESTABLISHED)
    back in; nothing else may enter the bridge from outside, so a neighbour that routes the
    subnet via this host reaches no port that was not published with M(nslab.net.port_publish).
  - Traffic between namespaces on the same bridge is accepted, or dropped with I(icc=false).
  - Turns on C(net.ipv4.ip_forward) (reported in C(sysctls)). The value it had before is
    recorded in C(/run/nslab/sysctls.json), with the networks of this module and of
    M(nslab.net.port_publish) that need it; C(state=absent) of the last of them puts it back.
    Where forwarding was already on, it is not the module's and stays on.
  - Rules live in chains named C(NSLAB-*), reached by one jump each from the built-in chains;
    each rule carries the comment C(nslab:masquerade:BRIDGE). Rules of Docker, firewalld or the
    user are never flushed, reordered or touched. Rules in the chain C(NSLAB-USER), which is
    evaluated first in FORWARD, are the user's and are kept.
  - The rules are written where the host's own C(iptables) reads them (nf_tables or legacy),
    in one transaction per table, under the xtables lock.
author:
  - nslab.net contributors (@nslab)
extends_documentation_fragment:
  - nslab.net.requirements.IPTABLES
  - nslab.net.requirements.ROOT_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.firewall
  - nslab.net.state
attributes:
  check_mode:
    description: >-
      Reports the rules and settings a real run would change or put back, changing nothing
      (neither settings nor their record).
  diff_mode:
    description: Shows the network's rules and the kernel settings before and after.
options:
  bridge:
    description:
      - The lab network's bridge. Required unless I(networks) is given.
    type: str
  subnet:
    description:
      - The lab subnet in CIDR form (C(10.0.0.0/24)), without host bits. Required with
        C(state=present).
    type: str
  out_interface:
    description:
      - Masquerade and forward only traffic that leaves by this interface (the uplink). By
        default, traffic leaving by any interface other than the bridge.
    type: str
  icc:
    description:
      - Whether namespaces on the bridge may reach each other (Docker's inter-container
        communication). C(false) needs the br_netfilter kernel module and turns on
        C(net.bridge.bridge-nf-call-iptables), so that bridged traffic passes the rules; it
        is put back as it was when no network with C(icc=false) is left.
    type: bool
    default: true
  masquerade:
    description:
      - Whether the subnet's traffic to the outside is masqueraded. C(false) keeps every
        forwarding and isolation rule and leaves out only the NAT rule, like Docker's
        C(com.docker.network.bridge.enable_ip_masquerade=false), for a network whose
        addresses are routed or that must not reach the outside.
    type: bool
    default: true
  networks:
    description:
      - Many networks in one task, each with the options above. Mutually exclusive with them.
    type: list
    elements: dict
    suboptions:
      bridge:
        description: The network's bridge.
        type: str
        required: true
      subnet:
        description: Its subnet, required with C(state=present).
        type: str
      out_interface:
        description: The only interface its traffic may leave by, as above.
        type: str
      icc:
        description: Whether its namespaces may reach each other.
        type: bool
        default: true
      masquerade:
        description: Whether its traffic to the outside is masqueraded.
        type: bool
        default: true
  state:
    description:
      - C(present) makes the rules of each network exactly as described; C(absent) removes
        every rule this module made for the bridges named.
notes:
  - IPv4 only.
  - The task fails before changing anything when any network's options are invalid.
  - The chains and jumps are removed with the last rule of the collection; C(NSLAB-USER) stays
    while it holds rules of the user.
seealso:
  - module: nslab.net.port_publish
  - module: nslab.net.bridge
'''

EXAMPLES = r'''
- name: Internet access for the lab behind br0
  nslab.net.nat_masquerade:
    bridge: br0
    subnet: 10.0.0.0/24

- name: Two networks, one leaving only by eth0, one whose namespaces cannot talk to each other
  nslab.net.nat_masquerade:
    networks:
      - bridge: br-front
        subnet: 10.1.0.0/24
        out_interface: eth0
      - bridge: br-back
        subnet: 10.2.0.0/24
        icc: false

- name: Remove the NAT of the three networks
  nslab.net.nat_masquerade:
    networks: [{bridge: br0}, {bridge: br-front}, {bridge: br-back}]
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
    - The rules of the task's networks after the run (predicted in check mode), as
      C(-t TABLE -A CHAIN ...) lines in iptables-save order.
  returned: success
  type: list
  elements: str
  sample: ["-t nat -A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 ! -o br0 -m comment --comment nslab:masquerade:br0 -j MASQUERADE"]
sysctls:
  description:
    - The kernel settings the task needs, and those it put back (or let go), with their
      values after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {"net.ipv4.ip_forward": "1"}
commands:
  description: The equivalent C(iptables) and C(sysctl) commands of the changes, in order.
  returned: success
  type: list
  elements: str
  sample: ["iptables -t nat -A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 ! -o br0 -m comment --comment nslab:masquerade:br0 -j MASQUERADE"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade_task import MASQUERADE_ARGS, converge_masquerade, masquerade_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **MASQUERADE_ARGS)
    run_module(module, masquerade_spec, converge_masquerade)


if __name__ == '__main__':
    main()
