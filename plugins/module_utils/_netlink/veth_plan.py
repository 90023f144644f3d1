# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the veth module: validated pairs + observed views -> steps.

A pair is two ends, each ``(netns, name)``. The module never re-pairs: an end that exists
with another peer is an error, because rebuilding it would cut whatever uses that link.
"""


from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_address_list, parse_gateway
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import (
    interface_name_error, mtu_error, netns_name_error)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates, where

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView

END_KEYS = ('name', 'netns', 'addresses', 'master', 'hairpin', 'gateway')
PAIR_KEYS = END_KEYS + ('peer', 'mtu', 'up')


def _label(end: Mapping[str, Any]) -> str:
    return 'veth %s%s' % (end['name'], ' in namespace %s' % end['netns'] if end['netns'] else '')


def _parse_end(raw: Mapping[str, Any], problems: List[str]) -> Dict[str, Any]:
    end: Dict[str, Any] = dict(name=raw.get('name'), netns=raw.get('netns') or None, addresses=None,
                               master=raw.get('master') or None, hairpin=raw.get('hairpin'), gateway=None)
    label = _label(end)
    for error in (interface_name_error(end['name']),
                  end['netns'] and netns_name_error(end['netns']),
                  end['master'] and interface_name_error(end['master'])):
        if error:
            problems.append('%s: %s' % (label, error))
    if end['master'] is not None and end['master'] == end['name']:
        problems.append('%s: an interface cannot be its own master' % label)
    if end['hairpin'] is not None and end['master'] is None:
        problems.append('%s: hairpin is a setting of a bridge port; give master as well' % label)
    if raw.get('addresses') is not None:
        end['addresses'], errors = parse_address_list(raw['addresses'])
        problems.extend('%s: %s' % (label, error) for error in errors)
    if raw.get('gateway'):
        if not end['netns']:
            problems.append("%s: gateway is only for an end inside a namespace; refusing to change "
                            "the host's default route" % label)
        else:
            try:
                end['gateway'] = parse_gateway(raw['gateway'], end['addresses'] or [])
            except ValueError as exc:
                problems.append('%s: %s' % (label, exc))
    return end


def parse_pairs(items: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Validate the task's pairs; return normalised specs or raise InvalidInput."""
    problems: List[str] = []
    pairs: List[Dict[str, Any]] = []
    for item in items:
        if not item.get('peer') or not item['peer'].get('name'):
            problems.append('veth %r: peer.name is required' % (item.get('name'),))
            continue
        a = _parse_end(item, problems)
        b = _parse_end(item['peer'], problems)
        mtu = item.get('mtu')
        if mtu_error(mtu):
            problems.append('%s: %s' % (_label(a), mtu_error(mtu)))
        up = item.get('up') is not False
        if not up and (a['gateway'] or b['gateway']):
            problems.append('%s: a gateway needs the link up (up: true)' % _label(a))
        pairs.append(dict(a=a, b=b, mtu=mtu, up=up))
    ends = [(p[side]['netns'], p[side]['name']) for p in pairs for side in 'ab']
    for netns, name in duplicates(ends):
        problems.append('veth %s in %s is named more than once in this task' % (name, where(netns)))
    gateways = [(p[side]['netns'], ':' in p[side]['gateway']) for p in pairs for side in 'ab' if p[side]['gateway']]
    for netns, ipv6 in duplicates(gateways):
        problems.append('%s would get two IPv%d default gateways in this task' % (where(netns), 6 if ipv6 else 4))
    addresses = [(p[side]['netns'], address.split('/')[0]) for p in pairs for side in 'ab'
                 for address in p[side]['addresses'] or []]
    for netns, address in duplicates(addresses):
        problems.append('address %s is given to more than one end in %s' % (address, where(netns)))
    if problems:
        raise InvalidInput(problems)
    return pairs


def nsid_keys(pairs: Iterable[Mapping[str, Any]]) -> List[Tuple[Optional[str], Optional[str]]]:
    """The (from, to) namespace pairs whose netns ids the reader must look up to verify peers."""
    return sorted({(p['a']['netns'], p['b']['netns']) for p in pairs if p['a']['netns'] != p['b']['netns']},
                  key=lambda k: (k[0] or '', k[1] or ''))


def is_pair(link_a: 'Link', link_b: 'Link', nsid: Optional[int]) -> bool:
    """True when ``link_a``'s peer is ``link_b``; ``nsid`` is b's namespace id as seen from a's
    namespace, or None when both live in the same namespace."""
    if link_a.kind != 'veth' or link_b.kind != 'veth' or link_a.peer_index != link_b.index:
        return False
    return link_a.peer_nsid == nsid


def plan_pairs(pairs: Iterable[Mapping[str, Any]], state: str, views: Mapping[Optional[str], 'NamespaceView'],
               nsids: Mapping[Tuple[Optional[str], Optional[str]], Optional[int]], check_mode: bool) -> Tuple[List[Step], List[str]]:
    """Return ``(steps, problems)`` for ``pairs``; ``nsids`` maps nsid_keys() to netns ids."""
    steps, problems = [], []
    link: Optional['Link']  # a wrong end's link, then each end's link in turn
    for pair in pairs:
        a, b = pair['a'], pair['b']
        view_a, view_b = views[a['netns']], views[b['netns']]
        missing = [end['netns'] for end in (a, b) if not views[end['netns']].exists]
        if missing and state == 'present' and not check_mode:
            problems.append('%s: %s does not exist (create it first, e.g. with nslab.net.netns)'
                            % (_label(a), where(missing[0])))
            continue
        link_a, link_b = view_a.link(a['name']), view_b.link(b['name'])
        wrong_kind = [(end, link) for end, link in ((a, link_a), (b, link_b)) if link is not None and link.kind != 'veth']
        if wrong_kind:
            end, link = wrong_kind[0]
            problems.append('%s: a link of kind %s already has that name; leaving it untouched'
                            % (_label(end), link.kind or 'unknown'))
            continue
        paired = link_a is not None and link_b is not None and is_pair(
            link_a, link_b, nsids.get((a['netns'], b['netns'])) if a['netns'] != b['netns'] else None)
        if state == 'absent':
            if link_a is None:
                continue
            if not paired:
                problems.append('%s: its peer is not %s in %s; not deleting another pair'
                                % (_label(a), b['name'], where(b['netns'])))
                continue
            steps.append(Step('delete_link', a['netns'], a['name'], peer=(b['netns'], b['name'])))
            continue
        if (link_a is not None or link_b is not None) and not paired:
            end = a if link_a is not None else b
            problems.append('%s exists with another peer than %s; refusing to re-pair it (delete it or '
                            'choose another name)' % (_label(end), _label(b if end is a else a)))
            continue
        if link_a is None:
            steps.append(Step('create_veth', a['netns'], a['name'], peer=b['name'], peer_netns=b['netns']))
        for end, link in ((a, link_a), (b, link_b)):
            steps.extend(_converge_end(end, link, pair, views[end['netns']], check_mode, problems))
    return steps, problems


def _converge_end(end: Mapping[str, Any], link: Optional['Link'], pair: Mapping[str, Any], view: 'NamespaceView', check_mode: bool,
                  problems: List[str]) -> List[Step]:
    name, netns = end['name'], end['netns']
    steps = []
    current: Dict[str, Any] = dict(mtu=1500, up=False, master=None, addresses=(), hairpin=False)
    if link is not None:
        current = dict(mtu=link.mtu, up=link.up, master=link.master, addresses=link.addresses,
                       hairpin=bool(link.hairpin))
    if pair['mtu'] is not None and pair['mtu'] != current['mtu']:
        steps.append(Step('set_mtu', netns, name, mtu=pair['mtu']))
    if end['master'] is not None:
        bridge = view.link(end['master'])
        if bridge is not None and bridge.kind != 'bridge':
            problems.append('%s: master %s is a %s, not a bridge' % (_label(end), end['master'], bridge.kind or 'link'))
        elif bridge is None and not check_mode:
            problems.append('%s: master bridge %s does not exist in %s' % (_label(end), end['master'], where(netns)))
        if end['master'] != current['master']:
            steps.append(Step('set_master', netns, name, master=end['master']))
        # A new port starts with hairpin off, whatever the old port had.
        hairpin = current['hairpin'] if end['master'] == current['master'] else False
        if end['hairpin'] is not None and end['hairpin'] != hairpin:
            steps.append(Step('set_hairpin', netns, name, hairpin=end['hairpin']))
    if end['addresses'] is not None:
        for address in current['addresses']:
            if address not in end['addresses']:
                steps.append(Step('delete_address', netns, name, address=address))
        for address in end['addresses']:
            if address not in current['addresses']:
                steps.append(Step('add_address', netns, name, address=address))
    if pair['up'] != current['up']:
        steps.append(Step('set_up', netns, name, up=pair['up']))
    if end['gateway']:
        version = 6 if ':' in end['gateway'] else 4
        route = view.default_routes.get(version)
        # Setting the link up above can't have made a route; a down link has lost its routes,
        # and so has one whose address was deleted (the kernel flushes the routes through a
        # gateway that was reachable only by way of that address).
        readdressed = any(step.op == 'delete_address' for step in steps)
        if route != (end['gateway'], name) or not current['up'] or readdressed:
            steps.append(Step('replace_default_route', netns, name, gateway=end['gateway']))
    return steps


def _report_end(end: Mapping[str, Any], view: Optional['NamespaceView']) -> Optional[Dict[str, Any]]:
    link = view.link(end['name']) if view is not None else None
    if link is None:
        return None
    gateways = [gw for version, (gw, dev) in sorted(view.default_routes.items()) if dev == link.name]  # type: ignore[union-attr]  # a link implies a view
    return dict(name=link.name, netns=end['netns'], mtu=link.mtu, up=link.up, master=link.master,
                hairpin=bool(link.hairpin) if link.master else None,
                addresses=list(link.addresses), gateway=gateways[0] if gateways else None)


def report_pairs(pairs: Iterable[Mapping[str, Any]], views: Mapping[Optional[str], 'NamespaceView']) -> List[Dict[str, Any]]:
    """The pairs of ``pairs`` as they are in ``views``; a pair with a missing end is left out."""
    report = []
    for pair in pairs:
        a = _report_end(pair['a'], views.get(pair['a']['netns']))
        b = _report_end(pair['b'], views.get(pair['b']['netns']))
        if a is not None and b is not None:
            a['peer'] = b
            report.append(a)
    return report


_END_OPTIONS = dict(
    name=dict(type='str'),
    netns=dict(type='str'),
    addresses=dict(type='list', elements='str'),
    master=dict(type='str'),
    hairpin=dict(type='bool'),
    gateway=dict(type='str'),
)
_PEER_OPTIONS = dict(_END_OPTIONS, name=dict(type='str', required=True))
_PAIR_OPTIONS = dict(
    _END_OPTIONS,
    peer=dict(type='dict', options=_PEER_OPTIONS),
    mtu=dict(type='int'),
    up=dict(type='bool'),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
PAIR_ARGS = dict(
    argument_spec=dict(
        _PAIR_OPTIONS,
        pairs=dict(type='list', elements='dict',
                   options=dict(_PAIR_OPTIONS, name=dict(type='str', required=True),
                                peer=dict(type='dict', options=_PEER_OPTIONS, required=True))),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('name', 'pairs')],
    required_by={'name': 'peer'},
    mutually_exclusive=[('pairs', key) for key in PAIR_KEYS],
)
