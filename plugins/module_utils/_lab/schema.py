# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's variables, written once: their names, types, choices and defaults.

nslab.net.lab_network's argument spec, the keys :mod:`spec` accepts in a network, a namespace
and a namespace's network, and the defaults it fills in all come from here. ansible-core reads
the role's own schema (``roles/lab/meta/argument_specs.yml``, ``defaults/main.yml``) from YAML
only, so those say it again, and tests/unit/plugins/module_utils/_lab/test_schema.py holds them
equal to this file.
"""

from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import OVERLAY_OPTIONS

DEFAULT_NAME = 'lab'
DEFAULT_BRIDGE = 'br0'
DEFAULT_SUBNET = '10.0.0.0/24'
STATES = ['present', 'absent']

_NAME_OPTIONS = dict(
    dns=dict(type='list', elements='str'),
    dns_search=dict(type='list', elements='str'),
    extra_hosts=dict(type='list', elements='str'),
)

#: An item of ``networks`` (the multi-network form).
NETWORK_OPTIONS = dict(
    name=dict(type='str', required=True),
    bridge=dict(type='str'),
    subnet=dict(type='str', required=True),
    gateway=dict(type='str'),
    uplink=dict(type='str'),
    masquerade=dict(type='bool', default=True),
    icc=dict(type='bool', default=True),
)

#: A dict item of a namespace's ``networks`` (a name alone is the same as ``{network: NAME}``).
MEMBER_OPTIONS = dict(
    network=dict(type='str', required=True),
    address=dict(type='str'),
    publish=dict(type='list', elements='str'),
    interface=dict(type='str'),
    host_interface=dict(type='str'),
)

#: An item of ``namespaces``.
NAMESPACE_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=STATES, default='present'),
    address=dict(type='str'),
    publish=dict(type='list', elements='str'),
    networks=dict(type='list', elements='raw'),
    command=dict(type='str'),
    chdir=dict(type='str'),
    **_NAME_OPTIONS
)

NETWORK_KEYS = tuple(NETWORK_OPTIONS)
MEMBER_KEYS = tuple(MEMBER_OPTIONS)
NAMESPACE_KEYS = tuple(NAMESPACE_OPTIONS)
NAME_KEYS = tuple(_NAME_OPTIONS)

#: nslab.net.lab_network's options: the role's variables without their ``lab_`` prefix, and
#: what only the module has (``reuse_result``). ``networks`` and ``namespaces`` carry no
#: suboptions here: :func:`spec.lab_spec` checks their items against the options above with
#: the lab's own messages, as the filter of that name and the restore at boot need it to.
LAB_OPTIONS = dict(
    name=dict(type='str', default=DEFAULT_NAME),
    state=dict(type='str', choices=STATES, default='present'),
    networks=dict(type='list', elements='dict', default=[]),
    bridge=dict(type='str', default=DEFAULT_BRIDGE),
    subnet=dict(type='str', default=DEFAULT_SUBNET),
    gateway=dict(type='str'),
    uplink=dict(type='str'),
    masquerade=dict(type='bool', default=True),
    icc=dict(type='bool', default=True),
    namespaces=dict(type='list', elements='dict', default=[]),
    backend=dict(type='str', choices=['auto', 'legacy', 'nft'], default='auto'),
    service_manager=dict(type='str', choices=['auto', 'systemd', 'process'], default='auto'),
    kill_processes=dict(type='bool', default=False),
    diagram_path=dict(type='path'),
    overlay=dict(type='dict', options=OVERLAY_OPTIONS),
    restore_at_boot=dict(type='bool', default=True),
    names=dict(type='bool', default=True),
    dns=dict(type='list', elements='str', default=[]),
    dns_search=dict(type='list', elements='str', default=[]),
    extra_hosts=dict(type='list', elements='str', default=[]),
    lock_timeout=dict(type='int', default=60),
    reuse_result=dict(type='bool', default=False),
)
#: Where the role and the module name a thing apart: the module's nested schema (the
#: suboptions of these items) is the role's too.
SUBOPTIONS = dict(networks=NETWORK_OPTIONS, namespaces=NAMESPACE_OPTIONS)

#: AnsibleModule keyword arguments of nslab.net.lab_network.
LAB_ARGS = dict(argument_spec=LAB_OPTIONS)
