#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: netns
short_description: Manage named network namespaces, as C(ip netns) does
version_added: 0.1.0
description:
  - Creates and deletes named network namespaces, kept as bind mounts in C(/run/netns) exactly
    like C(ip netns add), so C(ip netns exec) and C(ip -n) work on them.
  - Takes a list of names, so one task manages any number of namespaces.
  - Names match exactly; C(ns1) never matches C(ns10).
  - A leftover file in C(/run/netns) with no namespace behind it (a stale entry) is replaced
    when I(state=present) and removed when I(state=absent).
author:
  - nslab.net contributors (@nslab)
extends_documentation_fragment:
  - nslab.net.requirements.PYROUTE2
  - nslab.net.requirements.ROOT_SYS_AND_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.state
attributes:
  check_mode:
    description: Reports exactly what a real run would change, changing nothing.
  diff_mode:
    description: Shows the namespaces before and after.
options:
  name:
    description:
      - The namespace names. Each is a file name in C(/run/netns), at most 255 bytes, with no
        C(/) or white space.
    type: list
    elements: str
    required: true
    aliases: [names]
  state:
    description:
      - C(present) creates missing namespaces; C(absent) deletes them.
  loopback:
    description:
      - Whether C(lo) inside each namespace is up (C(true)) or down (C(false)).
      - The kernel creates it down; almost every program expects it up.
    type: bool
    default: true
  kill_processes:
    description:
      - What to do with I(state=absent) when processes still run inside a namespace.
      - C(false) fails the task, naming the processes, and deletes nothing; deleting the
        name alone would leave the namespace alive but unreachable by name.
      - C(true) sends them SIGTERM, then SIGKILL after 5 seconds, and deletes the namespace
        once they are gone.
    type: bool
    default: false
notes:
  - The task fails before changing anything when a name is invalid or listed twice.
seealso:
  - module: nslab.net.veth
  - module: nslab.net.bridge
'''

EXAMPLES = r'''
- name: Two namespaces with loopback up
  nslab.net.netns:
    name: [ns1, ns2]

- name: Tear them down, stopping what runs inside
  nslab.net.netns:
    name: [ns1, ns2]
    state: absent
    kill_processes: true
'''

RETURN = r'''
namespaces:
  description: The namespaces of the task that exist after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The namespace name.
      type: str
      sample: ns1
    path:
      description: The bind mount that keeps it.
      type: str
      sample: /run/netns/ns1
    loopback_up:
      description: Whether C(lo) is up inside it.
      type: bool
      sample: true
commands:
  description: The equivalent C(ip) commands of the changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
  sample: ["ip netns add ns1", "ip -n ns1 link set lo up"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_task import NETNS_ARGS, converge_netns, in_netlink, netns_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **NETNS_ARGS)
    run_module(module, netns_spec, in_netlink(converge_netns))


if __name__ == '__main__':
    main()
