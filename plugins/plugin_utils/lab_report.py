# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role nslab.net.lab tells its user at the end: the lab as data, and as a diagram.

The summary names every namespace with its addresses and every published port with the
URLs that reach it, and, where the lab is part of a VXLAN overlay, the other hosts of the
overlay with the subnets each one holds; the diagram is Mermaid (a flowchart that GitHub and
most Markdown viewers draw), written as a Markdown file so it can be opened as it is.
"""


import ipaddress
import os
import re

from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import ports_by_destination
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import DEFAULT_NAME

LOOPBACK_ADDRESS = '127.0.0.1'
MEMBER_FIELDS = ('network', 'bridge', 'address', 'interface', 'host_interface')
OVERLAY_FIELDS = ('device', 'vni', 'port', 'address', 'underlay', 'mtu')


def _ipv4_addresses(link):
    """The IPv4 addresses of ``link`` (a link as netns_info returns it), loopback ones left out."""
    found = []
    for text in link.get('addresses') or []:
        address = ipaddress.ip_interface(str(text))
        if address.version == 4 and not address.ip.is_loopback:
            found.append(str(address.ip))
    return found


def host_addresses(info, bridges, uplinks=()):
    """The host's IPv4 addresses a neighbour can reach.

    Not loopback, nor an address on a bridge or a bridge port: a bridge's address is the
    gateway of the containers behind it (this lab's ``bridges``, another lab's, Docker's),
    which no neighbour reaches. A bridge that is an uplink (``uplinks``: a host whose own
    network runs through a bridge) is the exception.
    """
    found = []
    for link in (info.get('host') or {}).get('links') or []:
        name = link['name']
        if name == 'lo' or name in bridges or link.get('master') or (
                link.get('kind') == 'bridge' and name not in uplinks):
            continue
        found += _ipv4_addresses(link)
    return found


def uplink_addresses(info, uplink):
    """The IPv4 addresses of the host's link ``uplink``, and only of it."""
    for link in (info.get('host') or {}).get('links') or []:
        if link['name'] == uplink:
            return _ipv4_addresses(link)
    return []


def _endpoints(mapping, addresses):
    if mapping.host_ip is not None:
        return [mapping.host_ip]
    return [LOOPBACK_ADDRESS] + list(addresses)


def lab_summary(plan, info, backend=None, name=DEFAULT_NAME, restore=None):
    """The lab ``name`` as its user wants to see it after a run (``plan`` from lab_plan;
    ``restore`` what lab_network returned of the restore at boot, if anything)."""
    bridges = {n['bridge'] for n in plan['networks']}
    addresses = host_addresses(info, bridges, {n['uplink'] for n in plan['networks'] if n['uplink']})
    published, namespaces = [], []
    # Parsed once, when the lab was checked; the plan carries the result.
    ports = ports_by_destination(plan['publish'])
    for ns in plan['namespaces']:
        namespaces.append(dict(name=ns['name'], command=ns['command'],
                               addresses=[m['address'] for m in ns['networks']],
                               networks=[{key: m[key] for key in MEMBER_FIELDS} for m in ns['networks']]))
        for member in ns['networks']:
            for mapping in ports.get((member['bridge'], member['address'])) or []:
                where = ['%s:%d' % (host, mapping.host_port) for host in _endpoints(mapping, addresses)]
                published.append(dict(
                    namespace=ns['name'], network=member['network'], proto=mapping.proto,
                    host_port=mapping.host_port, host_ip=mapping.host_ip or '0.0.0.0',
                    destination='%s:%d' % (mapping.destination, mapping.container_port),
                    urls=['http://%s/' % hostport if mapping.proto == 'tcp' else 'udp://%s' % hostport
                          for hostport in where]))
    networks = [dict(name=n['name'], bridge=n['bridge'], subnet=n['subnet'], gateway=n['gateway'],
                     uplink=n['uplink'], uplink_addresses=uplink_addresses(info, n['uplink']) if n['uplink'] else [],
                     masquerade=n['masquerade'], icc=n['icc']) for n in plan['networks']]
    summary = dict(name=name, state=plan['state'], backend=backend, host_addresses=addresses, networks=networks,
                   namespaces=namespaces, published=published,
                   totals=dict(networks=len(networks), namespaces=len(namespaces), published=len(published),
                               services=sum(1 for ns in namespaces if ns['command'])))
    overlay = _overlay(plan.get('overlay'))
    # A lab without an overlay (and a plan of a release that had none) is reported as it
    # always was: no key, no column, no table.
    if overlay is not None:
        summary['overlay'] = overlay
        summary['totals']['peers'] = len(overlay['peers'])
    if plan['state'] == 'present' and 'names' in plan:
        summary['names'] = _names(plan['names'], name, plan.get('overlay'))
    if restore:
        summary['restore'] = dict(restore)
    summary['text'] = _text(summary)
    return summary


_RESOLVER_SOURCES = {
    '/etc/resolv.conf': "the host's",
    '/run/systemd/resolve/resolv.conf': "systemd-resolved's upstream: the host's resolv.conf names only loopback servers",
    'dns': 'declared',
    'fallback': "Docker's fallback: the host has no nameserver a namespace reaches; set lab_dns",
}


def _names(names, lab, overlay=None):
    """What the namespaces resolve with: ``resolvers``, each with the namespaces that use it;
    with an overlay, how the peers' namespaces are named (``peers``)."""
    if not names:
        return dict(managed=False, resolvers=[])
    groups = []
    for netns, resolver in sorted(names['resolvers'].items()):
        for group in groups:
            if group['resolver'] == resolver:
                group['namespaces'].append(netns)
                break
        else:
            groups.append(dict(resolver=resolver, namespaces=[netns]))
    described = dict(managed=True, hosts='NAME and NAME.%s' % lab, resolvers=groups)
    if isinstance(overlay, dict):
        peers = overlay.get('peers') or []
        described['peers'] = dict(hosts='NAME.PEER and NAME.PEER.%s' % lab,
                                  known=sum(1 for peer in peers if peer.get('namespaces') is not None),
                                  peers=len(peers))
    return described


def _names_lines(names):
    if not names['managed']:
        return ["NAMES    not managed (lab_names is false): namespaces see the host's /etc/hosts and /etc/resolv.conf"]
    lines = ['NAMES    /etc/netns/NAMESPACE/hosts: the namespaces of its networks, as %s' % names['hosts']]
    peers = names.get('peers')
    if peers and peers['peers']:
        lines.append('         and those of the overlay\'s peers on them, as %s (NAME too where no other has it); '
                     'known for %d of %d peers' % (peers['hosts'], peers['known'], peers['peers']))
    for group in names['resolvers']:
        resolver = group['resolver']
        text = 'nameserver %s' % ' '.join(resolver['nameservers'])
        if resolver['search']:
            text += ', search %s' % ' '.join(resolver['search'])
        source = _RESOLVER_SOURCES.get(resolver['source'], resolver['source'])
        who = '' if len(names['resolvers']) == 1 else ' of %s' % ' '.join(group['namespaces'])
        lines.append('         /etc/netns/NAMESPACE/resolv.conf%s: %s (%s)' % (who, text, source))
    return lines


def _overlay(overlay):
    """The overlay of the plan as the summary shows it (None: the lab has none)."""
    if not isinstance(overlay, dict):
        return None
    shown = {key: overlay.get(key) for key in OVERLAY_FIELDS}
    shown['peers'] = [dict(name=peer['name'], address=peer.get('address'),
                           networks=[dict(network=member['network'], subnet=member['subnet'])
                                     for member in peer.get('networks') or []])
                      for peer in overlay.get('peers') or []]
    shown['unknown'] = list(overlay.get('unknown') or [])
    return shown


def _columns(rows):
    """``rows`` (lists of cells, a header first) as lines whose columns line up, two spaces apart.

    No line ends in spaces: Ansible's YAML output would quote such a line.
    """
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(row) for row in rows))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _outbound(network):
    if not network['masquerade']:
        return 'no NAT'
    if not network['uplink']:
        return 'NAT out of any other interface'
    addresses = network.get('uplink_addresses')
    return 'NAT out of %s%s' % (network['uplink'], ' (%s)' % ', '.join(addresses) if addresses else '')


def _port_cells(port):
    """A published port as ``docker ps`` writes it (host side -> namespace port), and its URLs."""
    return ['%s:%d->%s/%s' % (port['host_ip'], port['host_port'], port['destination'].rsplit(':', 1)[1], port['proto']),
            ' '.join(port['urls'])]


def _namespace_rows(summary):
    """One row per namespace; one on several networks, or with several published ports, goes on
    over the next lines, its name and service on the first only, as a table cell holding several
    values does. Each port is on the line of the network it is published to, whose address it
    reaches. The service comes last, so that a long command widens no column."""
    ports = {}
    for port in summary['published']:
        ports.setdefault((port['namespace'], port['network']), []).append(port)
    rows = [['NAMESPACE', 'NETWORK', 'ADDRESS', 'PUBLISHED', 'URLS', 'SERVICE']]
    for ns in summary['namespaces']:
        lines = []
        for member in ns['networks']:
            where = [member['network'], '%s %s' % (member['interface'], member['address'])]
            published = ports.get((ns['name'], member['network'])) or []
            lines.append(where + (_port_cells(published[0]) if published else ['', '']))
            lines += [['', ''] + _port_cells(port) for port in published[1:]]
        lines = lines or [['', '', '', '']]
        rows.append([ns['name']] + lines[0] + [ns['command'] or ''])
        rows += [[''] + line for line in lines[1:]]
    return rows


def _peer_subnet(member, networks):
    """A peer's subnet, with why this host does not reach it where it does not."""
    network = networks.get(member['network'])
    if network is None:
        return '%s (not reached: no network %s here)' % (member['subnet'], member['network'])
    if not network['icc']:
        return '%s (not reached: icc off)' % member['subnet']
    return member['subnet']


def _overlay_rows(summary):
    """The overlay's own line, then one row per subnet of every other host of the overlay: which
    subnet lives where. A host whose underlay address is known neither from this run nor from
    the last one is listed as ``unknown``: it has no entries here until a run reaches it."""
    overlay = summary['overlay']
    underlay = ' '.join(part for part in (overlay['underlay'], overlay['address']) if part)
    device = [['OVERLAY', 'VNI', 'PORT', 'UNDERLAY', 'MTU'],
              [overlay['device'], str(overlay['vni']), '%s/udp' % overlay['port'], underlay, str(overlay['mtu'])]]
    networks = {network['name']: network for network in summary['networks']}
    peers = [['PEER', 'UNDERLAY', 'NETWORK', 'SUBNET']]
    for peer in overlay['peers']:
        lines = [[member['network'], _peer_subnet(member, networks)] for member in peer['networks']] or [['', '']]
        peers.append([peer['name'], peer['address'] or 'unknown'] + lines[0])
        peers += [['', ''] + line for line in lines[1:]]
    peers += [[name, 'unknown'] for name in overlay['unknown']]
    return device, peers


def _text(summary):
    """The summary as the lines a person reads in the play's output: the lab's totals, then a
    table of its networks, of its overlay and its peers where it has one, and one of its
    namespaces, as ``containerlab inspect`` shows a lab."""
    totals = summary['totals']
    firewall = 'iptables %s' % summary['backend'] if summary['backend'] else 'not used'
    counted = ['networks', 'namespaces', 'published', 'services'] + (['peers'] if 'peers' in totals else [])
    lines = _columns([['LAB'] + [key.upper() for key in counted] + ['FIREWALL'],
                      [summary.get('name') or DEFAULT_NAME] + [str(totals[key]) for key in counted] + [firewall]])
    lines += [''] + _columns([['NETWORK', 'BRIDGE', 'SUBNET', 'GATEWAY', 'ICC', 'OUTBOUND']] + [
        [n['name'], n['bridge'], n['subnet'], n['gateway'], 'yes' if n['icc'] else 'no', _outbound(n)]
        for n in summary['networks']])
    if summary.get('overlay'):
        device, peers = _overlay_rows(summary)
        lines += [''] + _columns(device)
        if len(peers) > 1:
            lines += [''] + _columns(peers)
    if summary['namespaces']:
        lines += [''] + _columns(_namespace_rows(summary))
    if summary.get('names') and summary['namespaces']:
        lines += [''] + _names_lines(summary['names'])
    if summary.get('restore'):
        lines += ['', _at_boot(summary['restore'])]
    return lines


def _at_boot(restore):
    """The summary's line on what brings the lab back after a reboot."""
    if restore.get('at_boot'):
        return 'AT BOOT  restored by %s (systemctl status %s)' % (restore['unit'], restore['unit'])
    return 'AT BOOT  not restored: %s' % restore.get('reason', 'unknown')


def _node(text):
    """A Mermaid node id: letters, digits and underscores only."""
    return re.sub(r'[^A-Za-z0-9_]', '_', text)


def _label(text):
    return '"%s"' % text.replace('"', "'")


def _overlay_diagram(overlay, networks):
    """The overlay's part of the diagram: the lines inside the host's subgraph (its VXLAN
    device), and those after it (the other hosts, and what joins them).

    A bridge is drawn joined to the device where a peer has a subnet on its network and the
    network's namespaces may reach each other (``icc``): only then does traffic cross.
    """
    device = 'vx_%s' % _node(overlay['device'])
    underlay = ' '.join(part for part in (overlay['underlay'], overlay['address']) if part)
    inside = ['    %s[%s]' % (device, _label('%s VXLAN VNI %s<br/>%s udp/%s<br/>lab MTU %s' % (
        overlay['device'], overlay['vni'], underlay, overlay['port'], overlay['mtu'])))]
    hosts, edges, joined = [], [], set()
    # Numbered, not named: two hosts whose names differ only in punctuation stay two nodes.
    for index, peer in enumerate(overlay['peers']):
        label = '<br/>'.join(['%s %s' % (peer['name'], peer['address'] or 'address unknown')] + [
            '%s %s' % (member['network'], member['subnet']) for member in peer['networks']])
        hosts.append('    peer_%d[%s]' % (index, _label(label)))
        edges.append('  %s --- peer_%d' % (device, index))
        joined.update(member['network'] for member in peer['networks'])
    for index, name in enumerate(overlay['unknown'], len(overlay['peers'])):
        hosts.append('    peer_%d[%s]' % (index, _label('%s<br/>address unknown' % name)))
        edges.append('  %s -.- peer_%d' % (device, index))
    if hosts:
        hosts = ['  subgraph overlay_%s[%s]' % (_node(overlay['device']), _label(
            'other hosts of the overlay (VNI %s)' % overlay['vni']))] + hosts + ['  end']
    edges += ['  br_%s --- %s' % (_node(network['bridge']), device) for network in networks
              if network['name'] in joined and network['icc']]
    return inside, hosts + edges


def lab_diagram(summary, host='host'):
    """A Markdown document holding a Mermaid flowchart of the lab ``summary`` describes.

    It shows the lab's own objects only: its bridges, namespaces and ports, and each uplink
    with the addresses of that link (not every address of the host, which would include the
    gateways of other labs on it); with an overlay, its VXLAN device and the other hosts of
    the overlay with their subnets.
    """
    inside, after = _overlay_diagram(summary['overlay'], summary['networks']) if summary.get('overlay') else ([], [])
    lines = ['flowchart LR']
    uplinks = {n['uplink']: n.get('uplink_addresses') or [] for n in summary['networks'] if n['uplink']}
    lines.append('  outside((%s))' % _label('other machines / internet'))
    lines.append('  subgraph host_%s[%s]' % (_node(host), _label('host %s' % host)))
    for uplink in sorted(uplinks):
        addresses = ', '.join(uplinks[uplink])
        lines.append('    up_%s[%s]' % (_node(uplink), _label('%s %s' % (uplink, addresses) if addresses else uplink)))
    for network in summary['networks']:
        lines.append('    br_%s[%s]' % (_node(network['bridge']), _label('%s %s/%s' % (
            network['bridge'], network['gateway'], network['subnet'].split('/')[1]))))
    lines += inside
    lines.append('  end')
    lines += after
    for uplink in sorted(uplinks):
        lines.append('  up_%s --- outside' % _node(uplink))
    for network in summary['networks']:
        if network['masquerade']:
            target = 'up_%s' % _node(network['uplink']) if network['uplink'] else 'outside'
            lines.append('  br_%s -- %s --> %s' % (_node(network['bridge']), _label('NAT'), target))
    for ns in summary['namespaces']:
        label = '<br/>'.join([ns['name']] + ['%s %s' % (m['interface'], m['address']) for m in ns['networks']])
        if ns['command']:
            label += '<br/><i>%s</i>' % ns['command']
        lines.append('  ns_%s[%s]' % (_node(ns['name']), _label(label)))
        for member in ns['networks']:
            lines.append('  ns_%s --- br_%s' % (_node(ns['name']), _node(member['bridge'])))
    for index, port in enumerate(summary['published']):
        lines.append('  port_%d>%s] --> ns_%s' % (index, _label('%s:%d/%s -> %s' % (
            port['host_ip'], port['host_port'], port['proto'], port['destination'])), _node(port['namespace'])))
    name = summary.get('name') or DEFAULT_NAME
    title = 'Lab on %s' % host if name == DEFAULT_NAME else 'Lab %s on %s' % (name, host)
    return '# %s\n\n```mermaid\n%s\n```\n' % (title, '\n'.join(lines))


def diagram_location(path, working_directory):
    """Where the diagram ``path`` is on the controller: a relative path is taken from ``working_directory``.

    That is the directory ansible-playbook was started in, whatever the inventory (a file, a
    directory, a dynamic inventory plugin, or ``-i host1,host2,``, where Ansible sets
    ``inventory_dir`` to the string "None") and wherever the playbook is (inside an installed
    collection when it runs by its FQCN).
    """
    return os.path.normpath(os.path.join(working_directory, os.path.expanduser(path)))
