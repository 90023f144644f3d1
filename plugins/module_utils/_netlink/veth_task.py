# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.veth: its arguments parsed into a spec, then converged.
"""


from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.parameters import parsed_items
from ansible_collections.nslab.net.plugins.module_utils._netlink.runner import run_netlink
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import PAIR_KEYS, nsid_keys, parse_pairs, plan_pairs, report_pairs

# What nslab.net.veth runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import PAIR_ARGS  # pylint: disable=unused-import
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView, Step


def veth_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """What nslab.net.veth's arguments ask for; TaskFailed naming every bad value."""
    return dict(pairs=parsed_items(parse_pairs, params, 'pairs', PAIR_KEYS), state=params['state'])


def converge_pairs(module: 'AnsibleModule', netlink: 'Netlink', spec: Mapping[str, Any]) -> Dict[str, Any]:
    pairs = spec['pairs']

    def plan(views: Mapping[Optional[str], 'NamespaceView'],
             nsids: Mapping[Tuple[Optional[str], Optional[str]], Optional[int]]) -> Tuple[List['Step'], List[str]]:
        return plan_pairs(pairs, spec['state'], views, nsids, module.check_mode)

    namespaces = [pair[side]['netns'] for pair in pairs for side in 'ab']
    # An address that comes up on a new interface is announced: the neighbours may hold the
    # MAC of the interface that had it before.
    return run_netlink(netlink, module.check_mode, 'pairs', namespaces, plan,
                       lambda views: report_pairs(pairs, views), nsid_keys=nsid_keys(pairs), warn=module.warn)
