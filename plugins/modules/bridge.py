#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: bridge
short_description: Manage Linux bridges, their addresses, MTU, STP and link state
version_added: 0.1.0
description:
  - Creates, configures and deletes Linux bridges (C(ip link add NAME type bridge)), in the
    host namespace or inside a named network namespace.
  - Give one bridge with the top-level options, or many with I(bridges).
  - A link of that name that is not a bridge is an error and is left untouched.
  - Re-running repairs drift (a deleted address, a bridge set down) and reports C(changed);
    a run with nothing to do reports C(changed=false).
author:
  - nslab.net contributors (@nslab)
extends_documentation_fragment:
  - nslab.net.requirements.PYROUTE2
  - nslab.net.requirements.ROOT_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.attributes.CHECK_MODE_MISSING_NAMESPACE
  - nslab.net.state
attributes:
  diff_mode:
    description: Shows the bridges before and after.
options:
  name:
    description:
      - The bridge's name, at most 15 bytes. Required unless I(bridges) is given.
    type: str
  netns:
    description:
      - The named network namespace the bridge lives in; the host namespace when omitted.
    type: str
  addresses:
    description:
      - The exact set of addresses the bridge carries, in CIDR form (C(10.0.0.254/24)).
        Addresses not listed are removed; IPv6 link-local addresses are never touched.
      - Omit to leave the bridge's addresses alone; C([]) removes them all.
    type: list
    elements: str
  mtu:
    description:
      - The bridge's MTU, 68 to 65535. Omit to leave it as the kernel sets it.
    type: int
  stp:
    description:
      - Whether the kernel's spanning tree protocol runs on the bridge. Defaults to C(false),
        as Docker's bridges do; with STP on, new ports wait about 30 seconds before forwarding.
    type: bool
  up:
    description:
      - Whether the bridge is administratively up. Defaults to C(true).
    type: bool
  bridges:
    description:
      - Many bridges in one task, each with the options above. Mutually exclusive with them.
    type: list
    elements: dict
    suboptions:
      name:
        description: The bridge's name.
        type: str
        required: true
      netns:
        description: The namespace it lives in; the host namespace when omitted.
        type: str
      addresses:
        description: The exact set of its addresses, as above; omit to leave them alone.
        type: list
        elements: str
      mtu:
        description: Its MTU.
        type: int
      stp:
        description: Whether STP runs on it. Defaults to C(false).
        type: bool
      up:
        description: Whether it is up. Defaults to C(true).
        type: bool
  state:
    description:
      - C(present) creates and configures the bridges; C(absent) deletes them (their ports are
        detached by the kernel, not deleted).
notes:
  - The task fails before changing anything when any bridge's options are invalid.
seealso:
  - module: nslab.net.veth
  - module: nslab.net.netns
'''

EXAMPLES = r'''
- name: The lab's bridge, as the gateway of 10.0.0.0/24
  nslab.net.bridge:
    name: br0
    addresses: [10.0.0.254/24]

- name: Two bridges in one task
  nslab.net.bridge:
    bridges:
      - name: br-front
        addresses: [10.1.0.1/24]
      - name: br-back
        addresses: [10.2.0.1/24]
        mtu: 1400

- name: Remove the three bridges
  nslab.net.bridge:
    bridges: [{name: br0}, {name: br-front}, {name: br-back}]
    state: absent
'''

RETURN = r'''
bridges:
  description: The bridges of the task that exist after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The bridge's name.
      type: str
      sample: br0
    netns:
      description: Its namespace, null for the host namespace.
      type: str
      sample: null
    addresses:
      description: Its addresses in CIDR form, IPv6 link-local ones left out.
      type: list
      elements: str
      sample: ["10.0.0.254/24"]
    mtu:
      description: Its MTU.
      type: int
      sample: 1500
    stp:
      description: Whether STP runs on it.
      type: bool
      sample: false
    up:
      description: Whether it is administratively up.
      type: bool
      sample: true
    ports:
      description: The names of the links attached to it.
      type: list
      elements: str
      sample: ["veth-ns1"]
commands:
  description: The equivalent C(ip) commands of the changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
  sample: ["ip link add br0 type bridge", "ip address add 10.0.0.254/24 dev br0", "ip link set br0 up"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_task import BRIDGE_ARGS, bridge_spec, converge_bridges, in_netlink


def main():
    module = AnsibleModule(supports_check_mode=True, **BRIDGE_ARGS)
    run_module(module, bridge_spec, in_netlink(converge_bridges))


if __name__ == '__main__':
    main()
