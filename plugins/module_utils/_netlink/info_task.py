# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.netns_info: its arguments checked, then the namespaces described.

Its payload carries the netlink reading code and no plan of the other netlink modules.
"""


from typing import TYPE_CHECKING, Any, Dict, Mapping

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import describe

# What nslab.net.netns_info runs besides what is below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink

INFO_ARGS: Dict[str, Any] = dict(
    argument_spec=dict(
        netns=dict(type='list', elements='str'),
        host=dict(type='bool', default=True),
    ),
)


def info_spec(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The namespaces asked for (None: every one in /run/netns) and whether the host is;
    TaskFailed naming every bad name."""
    names = params['netns']
    problems = [problem for problem in (netns_name_error(name) for name in names or []) if problem]
    if problems:
        raise TaskFailed('; '.join(problems), problems=problems)
    return dict(names=names, host=params['host'])


def converge_info(module: 'AnsibleModule', netlink: 'Netlink', spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The namespaces and the host as they are; nothing changes, in check mode or not."""
    names = spec['names']
    if names is None:
        names = named_namespaces.listed()
    wanted = ([None] if spec['host'] else []) + list(names)
    views = netlink.read_views(wanted)
    return dict(changed=False, namespaces={name: describe(views[name]) for name in names},
                host=describe(views[None]) if spec['host'] else {})
