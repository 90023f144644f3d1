# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the netns module: wanted names + what /run/netns holds -> steps."""


from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView


class NetnsEntry:
    """What one name in the namespace directory is: a live namespace, a stale file, or nothing.

    ``processes`` maps the pids running inside the namespace to their command names; it is
    read only when the plan may delete the namespace.
    """

    def __init__(self, name: str, status: str = 'absent', processes: Optional[Mapping[int, str]] = None) -> None:
        self.name = name
        self.status = status
        self.processes = dict(processes or {})


def parse_netns(params: Mapping[str, Any]) -> Tuple[List[str], bool, bool]:
    """Validate the task; return ``(names, loopback, kill_processes)`` or raise InvalidInput."""
    names = list(params.get('name') or [])
    problems = [error for error in (netns_name_error(n) for n in names) if error]
    if not names:
        problems.append('name: give at least one namespace name')
    for repeated in duplicates(names):
        problems.append('namespace %r is listed twice' % (repeated,))
    if problems:
        raise InvalidInput(problems)
    return names, params.get('loopback') is not False, bool(params.get('kill_processes'))


def plan_netns(names: Iterable[str], state: str, loopback: bool, kill_processes: bool, entries: Mapping[str, NetnsEntry],
               views: Mapping[Optional[str], 'NamespaceView']) -> Tuple[List[Step], List[str]]:
    """Return ``(steps, problems)``. ``entries`` maps names to NetnsEntry; ``views`` maps
    existing namespaces to their NamespaceView (for the loopback state)."""
    steps, problems = [], []
    for name in names:
        entry = entries[name]
        if state == 'absent':
            if entry.status == 'absent':
                continue
            if entry.processes and not kill_processes:
                running = ', '.join('%d (%s)' % item for item in sorted(entry.processes.items()))
                problems.append('namespace %s still has processes: %s; stop them first or set '
                                'kill_processes: true' % (name, running))
                continue
            steps.append(Step('delete_netns', None, name, kill=sorted(entry.processes)))
            continue
        lo_up = False
        if entry.status == 'present':
            lo = views[name].link('lo')
            lo_up = bool(lo and lo.up)
        else:
            # A stale entry is a leftover file with no namespace behind it: replace it.
            steps.append(Step('create_netns', None, name, replace=entry.status == 'stale'))
        if lo_up != loopback:
            steps.append(Step('set_up', name, 'lo', up=loopback))
    return steps, problems


def report_netns(names: Iterable[str], views: Mapping[Optional[str], 'NamespaceView']) -> List[Dict[str, Any]]:
    """The namespaces of ``names`` that exist in ``views``."""
    report = []
    for name in names:
        view = views.get(name)
        if view is None or not view.exists:
            continue
        lo = view.link('lo')
        report.append(dict(name=name, path='/run/netns/%s' % name, loopback_up=bool(lo and lo.up)))
    return report


#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
NETNS_ARGS = dict(
    argument_spec=dict(
        name=dict(type='list', elements='str', required=True, aliases=['names']),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        loopback=dict(type='bool', default=True),
        kill_processes=dict(type='bool', default=False),
    ),
)
