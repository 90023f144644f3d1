# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.nat_masquerade: its arguments parsed into networks, then converged.

Shared by the module and by nslab.net.lab_network. It needs no netlink: the module's
payload carries only the firewall code.
"""


from typing import TYPE_CHECKING, Any, Dict, Mapping

from ansible_collections.nslab.net.plugins.module_utils._common.parameters import parsed_items
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import MASQUERADE_KEYS, masquerade_task, parse_networks
from ansible_collections.nslab.net.plugins.module_utils._firewall.runner import run_firewall

# What nslab.net.nat_masquerade runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import MASQUERADE_ARGS  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def masquerade_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The networks of the module's arguments; TaskFailed naming every bad value."""
    networks = parsed_items(parse_networks, params, 'networks', MASQUERADE_KEYS, params['state'])
    return dict(networks=networks, state=params['state'], backend=params['backend'])


def converge_masquerade(module: 'AnsibleModule', spec: Mapping[str, Any]) -> Dict[str, Any]:
    return run_firewall(module, spec['backend'], lambda current: masquerade_task(spec['networks'], spec['state']))
