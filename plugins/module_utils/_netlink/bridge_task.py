# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.bridge: its arguments parsed into a spec, then converged.
"""


from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.parameters import parsed_items
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import BRIDGE_KEYS, parse_bridges, plan_bridges, report_bridges
from ansible_collections.nslab.net.plugins.module_utils._netlink.runner import run_netlink

# What nslab.net.bridge runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import BRIDGE_ARGS  # pylint: disable=unused-import
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView, Step


def bridge_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """What nslab.net.bridge's arguments ask for; TaskFailed naming every bad value."""
    return dict(bridges=parsed_items(parse_bridges, params, 'bridges', BRIDGE_KEYS), state=params['state'])


def converge_bridges(module: 'AnsibleModule', netlink: 'Netlink', spec: Mapping[str, Any]) -> Dict[str, Any]:
    bridges = spec['bridges']

    def plan(views: Mapping[Optional[str], 'NamespaceView'],
             nsids: Mapping[Tuple[Optional[str], Optional[str]], Optional[int]]) -> Tuple[List['Step'], List[str]]:
        return plan_bridges(bridges, spec['state'], views, module.check_mode)

    return run_netlink(netlink, module.check_mode, 'bridges', [bridge['netns'] for bridge in bridges], plan,
                       lambda views: report_bridges(bridges, views))
