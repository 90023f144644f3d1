# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the bridge module: validated items + observed views -> steps."""


from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_address_list
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import (
    interface_name_error, mtu_error, netns_name_error)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates, where

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView

BRIDGE_KEYS = ('name', 'netns', 'addresses', 'mtu', 'stp', 'up')


def parse_bridges(items: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Validate the task's bridge items; return normalised specs or raise InvalidInput."""
    problems: List[str] = []
    specs: List[Dict[str, Any]] = []
    for item in items:
        name, netns = item.get('name'), item.get('netns') or None
        label = 'bridge %r' % (name,)
        errors = [interface_name_error(name), netns and netns_name_error(netns), mtu_error(item.get('mtu'))]
        addresses = None
        if item.get('addresses') is not None:
            addresses, address_errors = parse_address_list(item['addresses'])
            errors.extend(address_errors)
        problems.extend('%s: %s' % (label, error) for error in errors if error)
        mtu = item.get('mtu')
        specs.append(dict(name=name, netns=netns, addresses=addresses, mtu=mtu,
                          stp=bool(item.get('stp')), up=item.get('up') is not False))
    for netns, name in duplicates((s['netns'], s['name']) for s in specs):
        problems.append('bridge %r in %s is listed twice' % (name, where(netns)))
    if problems:
        raise InvalidInput(problems)
    return specs


def plan_bridges(specs: Iterable[Mapping[str, Any]], state: str, views: Mapping[Optional[str], 'NamespaceView'],
                 check_mode: bool) -> Tuple[List[Step], List[str]]:
    """Return ``(steps, problems)`` that bring ``views`` to the wanted ``state`` of ``specs``."""
    steps, problems = [], []
    for spec in specs:
        name, netns = spec['name'], spec['netns']
        view = views[netns]
        if not view.exists and state == 'present' and not check_mode:
            problems.append('bridge %s: %s does not exist (create it first, e.g. with nslab.net.netns)'
                            % (name, where(netns)))
            continue
        link = view.link(name)
        if link is not None and link.kind != 'bridge':
            problems.append('bridge %s: %s already has a link %s of kind %s; leaving it untouched'
                            % (name, where(netns), name, link.kind or 'unknown'))
            continue
        if state == 'absent':
            if link is not None:
                steps.append(Step('delete_link', netns, name))
            continue
        steps.extend(_converge(spec, link))
    return steps, problems


def _converge(spec: Mapping[str, Any], link: Optional['Link']) -> List[Step]:
    name, netns = spec['name'], spec['netns']
    steps = []
    current_mtu: Optional[int]
    current_stp: Optional[bool]
    current_addresses: Sequence[str]
    if link is None:
        steps.append(Step('create_bridge', netns, name))
        current_mtu, current_stp, current_up, current_addresses = 1500, False, False, ()
    else:
        current_mtu, current_stp, current_up, current_addresses = link.mtu, link.stp, link.up, link.addresses
    if spec['mtu'] is not None and spec['mtu'] != current_mtu:
        steps.append(Step('set_mtu', netns, name, mtu=spec['mtu']))
    if spec['stp'] != bool(current_stp):
        steps.append(Step('set_stp', netns, name, stp=spec['stp']))
    if spec['addresses'] is not None:
        for address in current_addresses:
            if address not in spec['addresses']:
                steps.append(Step('delete_address', netns, name, address=address))
        for address in spec['addresses']:
            if address not in current_addresses:
                steps.append(Step('add_address', netns, name, address=address))
    if spec['up'] != current_up:
        steps.append(Step('set_up', netns, name, up=spec['up']))
    return steps


def report_bridges(specs: Iterable[Mapping[str, Any]], views: Mapping[Optional[str], 'NamespaceView']) -> List[Dict[str, Any]]:
    """The bridges of ``specs`` as they are in ``views``: one dict each, absent ones left out."""
    bridges = []
    for spec in specs:
        view = views.get(spec['netns'])
        link = view.link(spec['name']) if view is not None else None
        if link is None or link.kind != 'bridge':
            continue
        ports = sorted(other.name for other in view.links.values() if other.master == link.name)  # type: ignore[union-attr]  # a link implies a view
        bridges.append(dict(name=link.name, netns=spec['netns'], mtu=link.mtu, stp=bool(link.stp),
                            up=link.up, addresses=list(link.addresses), ports=ports))
    return bridges


_BRIDGE_OPTIONS = dict(
    name=dict(type='str'),
    netns=dict(type='str'),
    addresses=dict(type='list', elements='str'),
    mtu=dict(type='int'),
    stp=dict(type='bool'),
    up=dict(type='bool'),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
BRIDGE_ARGS = dict(
    argument_spec=dict(
        _BRIDGE_OPTIONS,
        bridges=dict(type='list', elements='dict', options=dict(_BRIDGE_OPTIONS, name=dict(type='str', required=True))),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('name', 'bridges')],
    mutually_exclusive=[('bridges', key) for key in BRIDGE_KEYS],
)
