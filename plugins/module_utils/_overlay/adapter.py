# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and changing the overlay's VXLAN device with iproute2 (``ip -j``, ``bridge -j``).

The device holds a handful of entries per peer, read and written once a run: the JSON of
iproute2 reads them in the terms the plan uses, and the commands that change them are the
very commands the task reports. Everything read here is on the lab's own device.
"""


import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def _json(module: 'AnsibleModule', argv: List[str], missing_ok: bool = False) -> Optional[Any]:
    rc, out, err = module.run_command(argv)
    if rc != 0:
        if missing_ok and 'does not exist' in err:
            return None
        raise TaskFailed('%s failed (rc %d): %s' % (' '.join(argv), rc, err.strip()), changed=False)
    return json.loads(out or '[]')


def parse_device(link: Dict[str, Any]) -> Dict[str, Any]:
    """What the plan compares, from one element of ``ip -j -d link show``."""
    info = link.get('linkinfo') or {}
    data = info.get('info_data') or {}
    return dict(kind=info.get('info_kind'), vni=data.get('id'), port=data.get('port'), local=data.get('local'),
                underlay=data.get('link'), learning=data.get('learning'), mac=link.get('address'), mtu=link.get('mtu'),
                up='UP' in (link.get('flags') or []))


def parse_entries(fdb: List[Dict[str, Any]], neighbours: List[Dict[str, Any]], routes: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The device's FDB entries, neighbours and routes as the sets :func:`plan.wanted_entries` makes."""
    return dict(
        fdb={(entry['mac'], entry['dst']) for entry in fdb if entry.get('dst') and entry.get('mac')},
        neighbours={(entry['dst'], entry['lladdr']) for entry in neighbours if entry.get('lladdr')},
        routes={(entry['dst'], entry.get('gateway'), entry.get('prefsrc')) for entry in routes})


def read_device(module: 'AnsibleModule', name: str) -> Optional[Dict[str, Any]]:
    """The device ``name`` with its entries, or None where it does not exist."""
    links = _json(module, ['ip', '-j', '-d', 'link', 'show', 'dev', name], missing_ok=True)
    if not links:
        return None
    device = parse_device(links[0])
    if device['kind'] != 'vxlan':
        return device
    device.update(parse_entries(_json(module, ['bridge', '-j', 'fdb', 'show', 'dev', name]) or [],
                                _json(module, ['ip', '-j', 'neigh', 'show', 'dev', name]) or [],
                                _json(module, ['ip', '-j', '-4', 'route', 'show', 'dev', name]) or []))
    return device


def apply_steps(module: 'AnsibleModule', steps: List[List[str]]) -> None:
    """Run ``steps`` in order: consecutive steps of one tool in one ``-batch`` process."""
    index = 0
    while index < len(steps):
        tool = steps[index][0]
        end = index
        while end < len(steps) and steps[end][0] == tool:
            end += 1
        batch = '\n'.join(' '.join(step[1:]) for step in steps[index:end]) + '\n'
        rc, out, err = module.run_command([tool, '-batch', '-'], data=batch, binary_data=True)
        if rc != 0:
            raise TaskFailed('%s -batch failed (rc %d): %s' % (tool, rc, err.strip()), changed=True,
                             commands=[' '.join(step) for step in steps])
        index = end


def read_collisions(module: 'AnsibleModule') -> Dict[str, Any]:
    """The host's VXLAN devices and main IPv4 routes, for :func:`plan.overlay_collisions`."""
    vxlans = [dict(parse_device(link), name=link.get('ifname'))
              for link in _json(module, ['ip', '-j', '-d', 'link', 'show', 'type', 'vxlan']) or []]
    return dict(vxlans=vxlans, routes=_json(module, ['ip', '-j', '-4', 'route', 'show', 'table', 'main']) or [])
