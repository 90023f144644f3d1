# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.netns: its arguments parsed into a spec, then converged.
"""


from typing import TYPE_CHECKING, Any, Collection, Dict, List, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput, invalid
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import NetnsEntry, parse_netns, plan_netns, report_netns
from ansible_collections.nslab.net.plugins.module_utils._netlink.runner import run_netlink

# What nslab.net.netns runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import NETNS_ARGS  # pylint: disable=unused-import
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView, Step


def netns_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """What nslab.net.netns's arguments ask for; TaskFailed naming every bad value."""
    try:
        names, loopback, kill_processes = parse_netns(params)
    except InvalidInput as exc:
        raise invalid(exc)
    return dict(names=names, loopback=loopback, kill_processes=kill_processes, state=params['state'])


def converge_netns(module: 'AnsibleModule', netlink: 'Netlink', spec: Mapping[str, Any], spared: Collection[int] = ()) -> Dict[str, Any]:
    """``spared``: pids an earlier step of the same run stops (the lab's own services), which
    therefore do not keep a namespace from being deleted, even when check mode only predicts
    that stop."""
    names, state = spec['names'], spec['state']
    entries = {name: NetnsEntry(name, named_namespaces.status(name)) for name in names}
    if state == 'absent':
        for name, processes in named_namespaces.processes_in(names).items():
            entries[name].processes = {pid: command for pid, command in processes.items()
                                       if pid not in spared}

    def plan(views: Mapping[Optional[str], 'NamespaceView'],
             nsids: Mapping[Tuple[Optional[str], Optional[str]], Optional[int]]) -> Tuple[List['Step'], List[str]]:
        return plan_netns(names, state, spec['loopback'], spec['kill_processes'], entries, views)

    # Only the state of lo matters here: no address or route dumps per namespace.
    return run_netlink(netlink, module.check_mode, 'namespaces', names, plan,
                       lambda views: report_netns(names, views), links_only=True)
