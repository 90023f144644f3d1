# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a lab owns: its record, checked against the host, and what follows from it (pure).

A lab's record (kept by :mod:`record`) lists the namespaces it made, with the inode of
each (an nsfs inode identifies one namespace for as long as it lives), whether it runs the
namespace's service, the veth pairs it made for it (host end, namespace end), the
bridges it made, and its overlay: the VXLAN devices it made, and the underlay address and the
namespaces of each peer it knew (a peer a later run does not reach, or whose namespaces it is
not told, keeps them). Rules and kernel settings need no entry of their own: they carry the
owner tags of their bridge (``nslab:masquerade:BRIDGE``, ``nslab:publish:BRIDGE[:ADDRESS]``)
or of their overlay device (``nslab:overlay:DEVICE``), and the ledger of kernel settings names
those owners.

From the record and the host:

- :func:`verify` trusts the record only as far as the kernel agrees: a namespace that was
  deleted by hand is *lost* (the lab rebuilds it and deletes its lingering host ends); one
  that was deleted and made again by someone else is no longer the lab's and is never
  touched; one only *claimed* (a run died between claiming and recording its inode) is the
  lab's if it exists.
- :func:`ownership_problems` refuses, before any change, to build over what the lab did not
  make: a namespace, bridge or host link of the wanted name that exists, or that another
  lab's record holds.
- :func:`claimed` is the record written before a run changes anything: what the lab owned
  and everything the run may create. :func:`final` is the record of the lab as the run left
  it. A run that dies in between leaves a record that names everything it may have made.
"""


import re
from typing import Any, Dict, List, Optional, Set, Tuple

RECORD_VERSION = 1
_LAB_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')


def lab_name_error(name: object) -> Optional[str]:
    """Why ``name`` cannot name a lab (it names the record file), or None."""
    if not isinstance(name, str) or not _LAB_NAME.match(name):
        return ('lab name %r must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter '
                'or digit' % (name,))
    return None


def empty_record() -> Dict[str, Any]:
    return dict(version=RECORD_VERSION, bridges=[], namespaces={})


class Owned:
    """The record as far as the host confirms it.

    ``namespaces`` maps the lab's namespace names to their record entries; ``lost`` are those
    of them deleted by hand (still the lab's to rebuild or forget); ``bridges`` the lab's
    bridge names; ``warnings`` say what the record held that the lab no longer owns.
    """

    def __init__(self, namespaces: Dict[str, Dict[str, Any]], lost: Set[str], bridges: List[str], warnings: List[str],
                 overlay: Optional[Dict[str, Any]] = None) -> None:
        self.namespaces = namespaces
        self.lost = lost
        self.bridges = bridges
        self.warnings = warnings
        overlay = overlay or {}
        #: The overlay devices the lab made, the underlay addresses of the peers it knew, and
        #: the namespaces of those peers it knew (``{peer: [{name, network, address}]}``).
        self.overlay_devices: List[str] = list(overlay.get('devices') or [])
        self.overlay_peers: Dict[str, str] = dict(overlay.get('peers') or {})
        self.overlay_namespaces: Dict[str, List[Dict[str, str]]] = {
            peer: [dict(ns) for ns in namespaces] for peer, namespaces in (overlay.get('namespaces') or {}).items()}

    def links(self, netns: str) -> List[Tuple[str, str]]:
        """The lab's veth pairs of ``netns``: ``[(host end, namespace end)]``."""
        return [(link['host'], link['peer']) for link in self.namespaces.get(netns, {}).get('links', [])]

    def host_ends(self) -> Set[str]:
        return {host for netns in self.namespaces for host, unused in self.links(netns)}


def verify(lab: str, record: Dict[str, Any], inodes: Dict[str, int]) -> Owned:
    """The :class:`Owned` part of ``record``, given ``inodes`` ({name: inode} of the live
    named namespaces among those the record and the variables name)."""
    namespaces, lost, warnings = {}, set(), []
    for name, entry in sorted((record.get('namespaces') or {}).items()):
        recorded, now = entry.get('inode'), inodes.get(name)
        if recorded is not None and now is not None and now != recorded:
            warnings.append('namespace %s is no longer the one lab %s made (it was deleted and made again '
                            'by someone else); the lab leaves it alone' % (name, lab))
            continue
        namespaces[name] = dict(entry, inode=now)
        if now is None and recorded is not None:
            lost.add(name)
    return Owned(namespaces, lost, list(record.get('bridges') or []), warnings, record.get('overlay'))


def _other_owner(records: Dict[str, Dict[str, Any]], lab: str, kind: str, name: str) -> Optional[str]:
    for other, record in sorted(records.items()):
        if other == lab:
            continue
        if kind == 'namespace' and name in (record.get('namespaces') or {}):
            return other
        if kind == 'bridge' and name in (record.get('bridges') or []):
            return other
        if kind == 'link' and any(link.get('host') == name for entry in (record.get('namespaces') or {}).values()
                                  for link in entry.get('links') or []):
            return other
        if kind == 'link' and name in ((record.get('overlay') or {}).get('devices') or []):
            return other
    return None


def ownership_problems(lab: str, plan: Dict[str, Any], owned: Owned, records: Dict[str, Dict[str, Any]], inodes: Dict[str, int],
                       host_links: Dict[str, Optional[str]]) -> List[str]:
    """Why ``plan`` would build over objects lab ``lab`` did not make; [] when it would not.

    ``records`` are every lab's records on the host, ``host_links`` maps the host's link
    names to their kinds.
    """
    problems: List[str] = []

    def refuse(kind: str, name: str, exists: bool) -> None:
        other = _other_owner(records, lab, kind, name)
        if other is not None:
            problems.append('%s %s belongs to lab %s; give this lab another %s name' % (kind, name, other, kind))
        elif exists:
            problems.append('%s %s already exists and was not made by lab %s; the lab never takes over, changes '
                            'or deletes what it did not make (remove it, or choose another name)'
                            % (kind, name, lab))

    for netns in plan['netns']:
        if netns not in owned.namespaces:
            refuse('namespace', netns, netns in inodes)
    for bridge in plan['bridges']:
        if bridge['name'] not in owned.bridges and host_links.get(bridge['name'], 'bridge') == 'bridge':
            refuse('bridge', bridge['name'], bridge['name'] in host_links)
    ends = owned.host_ends()
    for pair in plan['pairs']:
        if pair['name'] not in ends:
            refuse('link', pair['name'], pair['name'] in host_links)
    overlay = plan.get('overlay')
    if overlay and overlay['device'] not in owned.overlay_devices:
        refuse('link', overlay['device'], overlay['device'] in host_links)
    return problems


def removals(plan: Dict[str, Any], owned: Owned, host_links: Dict[str, Optional[str]]) -> Dict[str, List[Any]]:
    """What a run removes because the lab owns it and ``plan`` no longer declares it.

    With ``plan['state'] == 'absent'`` that is everything the lab owns. Returns the
    ``remove`` lists of the plan (services, publish, pairs, netns, masquerade, bridges) plus
    ``links``: host ends left behind by namespaces deleted by hand, and ``dying``: host
    ends that go with the namespaces the run deletes.
    """
    teardown = plan['state'] == 'absent'
    declared = {ns['name']: ns for ns in ([] if teardown else plan['namespaces'])}
    declared_pairs = {(pair['name'], pair['peer']['name'], pair['peer']['netns'])
                      for pair in ([] if teardown else plan['pairs'])}
    services = {service['name'] for service in ([] if teardown else plan['services'])}
    bridges = {bridge['name'] for bridge in ([] if teardown else plan['bridges'])}
    remove: Dict[str, List[Any]] = dict(services=[], publish=[], pairs=[], netns=[], masquerade=[], bridges=[], links=[], dying=[])
    for netns, entry in sorted(owned.namespaces.items()):
        if entry.get('service') and netns not in services:
            remove['services'].append(dict(name=netns, netns=netns))
        links = owned.links(netns)
        if netns in owned.lost:
            remove['links'] += [host for host, unused in links if host in host_links]
            if netns not in declared:
                # Its name may be left as a file with no namespace behind it (a run killed
                # between the unmount and the unlink); netns removes that, or finds nothing.
                remove['netns'].append(netns)
            continue
        if netns not in declared:
            remove['netns'].append(netns)
            remove['dying'] += [host for host, unused in links if host in host_links]
            continue
        remove['pairs'] += [dict(name=host, peer=dict(name=peer, netns=netns)) for host, peer in links
                            if (host, peer, netns) not in declared_pairs and host in host_links]
    gone = [bridge for bridge in owned.bridges if bridge not in bridges]
    publishing = {item['bridge'] for item in ([] if teardown else plan['publish'])}
    remove['publish'] = [dict(bridge=bridge) for bridge in gone]
    # A bridge that stays but has no member left publishes nothing.
    remove['publish'] += [dict(bridge=bridge) for bridge in sorted(bridges - publishing) if bridge in owned.bridges]
    remove['masquerade'] = [dict(bridge=bridge) for bridge in gone]
    remove['bridges'] = [dict(name=bridge) for bridge in gone]
    overlay = None if teardown else plan.get('overlay')
    remove['overlay'] = [dict(device=device) for device in owned.overlay_devices
                         if overlay is None or device != overlay['device']]
    return remove


def claimed(owned: Owned, plan: Dict[str, Any]) -> Dict[str, Any]:
    """The record to write before the run changes anything: the lab's and what it may create."""
    record = final(plan, {})
    for netns, entry in owned.namespaces.items():
        mine = record['namespaces'].setdefault(netns, dict(inode=entry.get('inode'), service=False, links=[]))
        if mine['inode'] is None:
            mine['inode'] = entry.get('inode')
        mine['service'] = mine['service'] or bool(entry.get('service'))
        for link in entry.get('links') or []:
            if link not in mine['links']:
                mine['links'].append(dict(link))
        if netns in owned.lost:
            # It is made again in this run: a new inode, known only afterwards.
            mine['inode'] = None
    record['bridges'] = sorted(set(record['bridges']) | set(owned.bridges))
    if owned.overlay_devices or record.get('overlay'):
        overlay = record.setdefault('overlay', dict(devices=[], peers={}))
        overlay['devices'] = sorted(set(overlay['devices']) | set(owned.overlay_devices))
        overlay['peers'] = dict(owned.overlay_peers, **overlay['peers'])
        overlay['namespaces'] = dict(owned.overlay_namespaces, **overlay.get('namespaces') or {})
    return record


def final(plan: Dict[str, Any], inodes: Dict[str, int]) -> Dict[str, Any]:
    """The record of the lab ``plan`` describes, with the namespaces' ``inodes`` as read now."""
    record = empty_record()
    if plan['state'] == 'absent':
        return record
    services = {service['name'] for service in plan['services']}
    for netns in plan['netns']:
        record['namespaces'][netns] = dict(inode=inodes.get(netns), service=netns in services, links=[])
    for pair in plan['pairs']:
        record['namespaces'][pair['peer']['netns']]['links'].append(dict(host=pair['name'], peer=pair['peer']['name']))
    record['bridges'] = sorted(bridge['name'] for bridge in plan['bridges'])
    overlay = plan.get('overlay')
    if overlay:
        record['overlay'] = dict(devices=[overlay['device']],
                                 peers={peer['name']: peer['address'] for peer in overlay['peers']},
                                 namespaces={peer['name']: [dict(ns) for ns in peer['namespaces']]
                                             for peer in overlay['peers'] if peer.get('namespaces') is not None})
    return record
