# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.port_publish: its arguments parsed into mappings, then converged.

Shared by the module and by nslab.net.lab_network. Unlike masquerading it reads the bridges'
subnets over netlink, and deletes the conntrack flows of ports that went.
"""


import ipaddress
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import parsed_items
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import PUBLISH_KEYS, parse_publish, plan_publish
from ansible_collections.nslab.net.plugins.module_utils._firewall.runner import run_firewall
from ansible_collections.nslab.net.plugins.module_utils._netlink.conntrack import delete_flows

# What nslab.net.port_publish runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import PUBLISH_ARGS  # pylint: disable=unused-import
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink


def publish_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """``{bridge: {destination: [PublishedPort]}}`` of the module's arguments; TaskFailed naming every bad value."""
    state, exclusive = params['state'], bool(params.get('exclusive'))
    wanted = parsed_items(parse_publish, params, 'publish', PUBLISH_KEYS, state, exclusive)
    return dict(wanted=wanted, state=state, exclusive=exclusive, backend=params['backend'])


def converge_publish(module: 'AnsibleModule', netlink: 'Netlink', spec: Mapping[str, Any]) -> Dict[str, Any]:
    wanted, state, exclusive = spec['wanted'], spec['state'], spec['exclusive']
    subnets = bridge_subnets(netlink, sorted(wanted))
    return run_firewall(module, spec['backend'],
                        lambda current: plan_publish(wanted, state, subnets, current, module.check_mode, exclusive),
                        delete_flows=delete_flows)


def bridge_subnets(netlink: 'Netlink', names: Iterable[str]) -> Dict[str, Optional[List[str]]]:
    """Each bridge's IPv4 subnets, None for a bridge that does not exist."""
    view = netlink.read_views([None])[None]
    subnets: Dict[str, Optional[List[str]]] = {}
    for name in names:
        link = view.link(name)
        if link is None:
            subnets[name] = None
        elif link.kind != 'bridge':
            raise TaskFailed('%s is a %s link, not a bridge' % (name, link.kind or 'physical'))
        else:
            networks = [ipaddress.ip_interface(address).network for address in link.addresses]
            subnets[name] = [str(network) for network in networks if network.version == 4]
    return subnets
