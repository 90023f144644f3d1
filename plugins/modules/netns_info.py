#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: netns_info
short_description: Read the links, addresses and default routes of the host and its named network namespaces
version_added: 0.1.0
description:
  - Reports, for the host's own network namespace and for named namespaces (C(ip netns)),
    each link with its kind, state, MTU, bridge, hairpin mode and addresses, and the default
    routes; the data C(ip -j link), C(ip -j address) and C(ip -j route) would give, from one
    process and one netlink socket per namespace.
  - Its result is what the filter C(nslab.net.lab_plan) allocates addresses against, so that an
    address in use is never handed out twice (M(nslab.net.lab_network) reads the same data itself).
author:
  - nslab.net contributors (@nslab)
requirements:
  - pyroute2 0.7.2 or later on the managed host
  - root (CAP_SYS_ADMIN) on the managed host, to enter the namespaces
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as in a real run.
  diff_mode:
    support: none
    description: Changes nothing, so has nothing to show.
options:
  netns:
    description:
      - The named namespaces to read. By default every namespace in C(/run/netns).
      - A name that does not exist is reported with C(exists=false).
    type: list
    elements: str
  host:
    description:
      - Whether to read the host's own network namespace too.
    type: bool
    default: true
notes:
  - IPv6 link-local addresses are left out, as the other modules of the collection ignore them.
seealso:
  - module: nslab.net.netns
'''

EXAMPLES = r'''
- name: Read every namespace and the host
  nslab.net.netns_info:
  register: lab_state

- name: The interface of the host's default route
  ansible.builtin.debug:
    msg: "{{ lab_state.host.default_routes['4'].interface | default('none') }}"

- name: Read two namespaces only
  nslab.net.netns_info:
    netns: [ns1, ns2]
    host: false
'''

RETURN = r'''
namespaces:
  description: Each namespace read, by name.
  returned: always
  type: dict
  sample:
    ns1:
      exists: true
      links:
        - {name: lo, kind: null, up: true, mtu: 65536, master: null, hairpin: null, addresses: [127.0.0.1/8]}
        - {name: eth0, kind: veth, up: true, mtu: 1500, master: null, hairpin: null, addresses: [10.0.0.1/24]}
      default_routes:
        '4': {gateway: 10.0.0.254, interface: eth0}
host:
  description: The host's own namespace, in the same form as one of C(namespaces). Empty with C(host=false).
  returned: always
  type: dict
  sample:
    exists: true
    links:
      - {name: eth0, kind: null, up: true, mtu: 1500, master: null, hairpin: null, addresses: [198.51.100.2/24]}
    default_routes:
      '4': {gateway: 198.51.100.1, interface: eth0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._netlink.info_task import INFO_ARGS, converge_info, in_netlink, info_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **INFO_ARGS)
    run_module(module, info_spec, in_netlink(converge_info))


if __name__ == '__main__':
    main()
