#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: veth
short_description: Manage veth pairs between namespaces, with addresses, bridge ports and gateways
version_added: 0.1.0
description:
  - Creates, configures and deletes veth pairs (C(ip link add A type veth peer name B)) whose
    ends live in the namespaces you name, the virtual cable between a container's namespace
    and a bridge on the host.
  - Per end, sets addresses, attaches it to a bridge (I(master)) and, for an end inside a
    namespace, sets that namespace's default route (I(gateway)); per pair, MTU and link state.
  - Give one pair with the top-level options, or many with I(pairs).
  - Never re-pairs. An end that exists with another peer, or a link of that name that is not a
    veth, is an error and is left untouched.
  - Re-running repairs drift (a deleted address, an end set down, a port detached from its
    bridge, a lost default route) and reports C(changed); a run with nothing to do reports
    C(changed=false).
author:
  - nslab.net contributors (@nslab)
extends_documentation_fragment:
  - nslab.net.requirements.PYROUTE2
  - nslab.net.requirements.ROOT_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.state
attributes:
  check_mode:
    description: >-
      Reports exactly what a real run would change, changing nothing. A namespace or master
      bridge missing in check mode is taken as one an earlier task of the play would create.
  diff_mode:
    description: Shows the pairs before and after.
options:
  name:
    description: The name of the first end, at most 15 bytes. Required unless I(pairs) is given.
    type: str
  netns:
    description: The named namespace of the first end; the host namespace when omitted.
    type: str
  addresses:
    description:
      - The exact set of the first end's addresses in CIDR form; others are removed, IPv6
        link-local ones never. Omit to leave them alone.
    type: list
    elements: str
  master:
    description: A bridge in the first end's namespace to attach the end to.
    type: str
  hairpin:
    description:
      - Hairpin mode of the first end as a port of I(master), C(bridge_slave hairpin); the
        bridge may send a frame back out of the port it came in by. A namespace needs it to
        reach its own published port on the host's address when bridged traffic passes
        iptables (br_netfilter), as Docker sets it for hairpin NAT. Omit to leave it alone.
    type: bool
  gateway:
    description:
      - The default gateway of the first end's namespace, reached through this end. Only for an
        end inside a named namespace, never the host's. Must lie in the subnet of one of
        I(addresses) when they are given.
    type: str
  peer:
    description: The other end, with the same options as the first.
    type: dict
    suboptions:
      name:
        description: Its name.
        type: str
        required: true
      netns:
        description: Its namespace; the host namespace when omitted.
        type: str
      addresses:
        description: The exact set of its addresses; omit to leave them alone.
        type: list
        elements: str
      master:
        description: A bridge in its namespace to attach it to.
        type: str
      hairpin:
        description: Its hairpin mode as a port of its I(master).
        type: bool
      gateway:
        description: The default gateway of its namespace, through this end.
        type: str
  mtu:
    description: The MTU of both ends, 68 to 65535. Omit to leave it as the kernel sets it.
    type: int
  up:
    description: Whether both ends are up. Defaults to C(true).
    type: bool
  pairs:
    description: Many pairs in one task, each with the options above. Mutually exclusive with them.
    type: list
    elements: dict
    suboptions:
      name:
        description: The first end's name.
        type: str
        required: true
      netns:
        description: The first end's namespace.
        type: str
      addresses:
        description: The first end's addresses.
        type: list
        elements: str
      master:
        description: The first end's bridge.
        type: str
      hairpin:
        description: Hairpin mode of the first end as a bridge port.
        type: bool
      gateway:
        description: The default gateway through the first end.
        type: str
      peer:
        description: The other end.
        type: dict
        required: true
        suboptions:
          name:
            description: Its name.
            type: str
            required: true
          netns:
            description: Its namespace.
            type: str
          addresses:
            description: Its addresses.
            type: list
            elements: str
          master:
            description: Its bridge.
            type: str
          hairpin:
            description: Its hairpin mode as a bridge port.
            type: bool
          gateway:
            description: The default gateway through it.
            type: str
      mtu:
        description: The MTU of both ends.
        type: int
      up:
        description: Whether both ends are up. Defaults to C(true).
        type: bool
  state:
    description:
      - C(present) creates and configures the pairs; C(absent) deletes them (deleting one end
        deletes the other, and the routes through them).
notes:
  - The task fails before changing anything when any pair's options are invalid, an end is
    named twice, or two ends would set a default gateway in the same namespace.
seealso:
  - module: nslab.net.netns
  - module: nslab.net.bridge
'''

EXAMPLES = r'''
- name: Plug namespace ns1 into bridge br0, as Docker plugs a container
  nslab.net.veth:
    name: veth-ns1
    master: br0
    peer:
      name: eth0
      netns: ns1
      addresses: [10.0.0.1/24]
      gateway: 10.0.0.254

- name: Many namespaces in one task
  nslab.net.veth:
    pairs:
      - name: veth-ns1
        master: br0
        peer: {name: eth0, netns: ns1, addresses: [10.0.0.1/24], gateway: 10.0.0.254}
      - name: veth-ns2
        master: br0
        peer: {name: eth0, netns: ns2, addresses: [10.0.0.2/24], gateway: 10.0.0.254}

- name: A bare cable between two namespaces
  nslab.net.veth:
    name: veth1
    netns: ns1
    addresses: [10.9.0.1/30]
    peer: {name: veth2, netns: ns2, addresses: [10.9.0.2/30]}

- name: Remove the three pairs (deleting one end deletes the other)
  nslab.net.veth:
    pairs:
      - {name: veth-ns1, peer: {name: eth0, netns: ns1}}
      - {name: veth-ns2, peer: {name: eth0, netns: ns2}}
      - {name: veth1, netns: ns1, peer: {name: veth2, netns: ns2}}
    state: absent
'''

RETURN = r'''
pairs:
  description: >-
    The pairs of the task that exist after the run (predicted in check mode): the first end,
    with the other under C(peer).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The end's name.
      type: str
      sample: veth-ns1
    netns:
      description: Its namespace, null for the host namespace.
      type: str
      sample: null
    addresses:
      description: Its addresses, IPv6 link-local ones left out.
      type: list
      elements: str
      sample: []
    master:
      description: The bridge it is attached to, or null.
      type: str
      sample: br0
    hairpin:
      description: Its hairpin mode as a bridge port, null when it is not one.
      type: bool
      sample: false
    gateway:
      description: The default gateway of its namespace when the default route goes through it.
      type: str
      sample: null
    mtu:
      description: Its MTU.
      type: int
      sample: 1500
    up:
      description: Whether it is up.
      type: bool
      sample: true
    peer:
      description: The other end, with the same keys.
      type: dict
      sample: {"name": "eth0", "netns": "ns1", "addresses": ["10.0.0.1/24"], "gateway": "10.0.0.254"}
commands:
  description: The equivalent C(ip) commands of the changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
  sample: ["ip link add veth-ns1 type veth peer name eth0 netns ns1", "ip link set veth-ns1 master br0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_task import PAIR_ARGS, converge_pairs, in_netlink, veth_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **PAIR_ARGS)
    run_module(module, veth_spec, in_netlink(converge_pairs))


if __name__ == '__main__':
    main()
