# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role nslab.net.lab tells its user at the end: the lab as data, and as a diagram.

The summary names every namespace with its addresses and every published port with the
URLs that reach it; the diagram is Mermaid (a flowchart that GitHub and most Markdown
viewers draw), written as a Markdown file so it can be opened as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re

from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import Mapping

LOOPBACK_ADDRESS = '127.0.0.1'
#: The lab name of a lab that was not given one.
DEFAULT_NAME = 'lab'
MEMBER_FIELDS = ('network', 'bridge', 'address', 'interface', 'host_interface')


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


def lab_summary(plan, info, backend=None, name=DEFAULT_NAME):
    """The lab ``name`` as its user wants to see it after a run (``plan`` from lab_plan)."""
    bridges = set(n['bridge'] for n in plan['networks'])
    addresses = host_addresses(info, bridges, set(n['uplink'] for n in plan['networks'] if n['uplink']))
    published, namespaces = [], []
    for ns in plan['namespaces']:
        namespaces.append(dict(name=ns['name'], command=ns['command'],
                               addresses=[m['address'] for m in ns['networks']],
                               networks=[dict((key, m[key]) for key in MEMBER_FIELDS) for m in ns['networks']]))
        for member in ns['networks']:
            for port in member['ports']:
                # Parsed once, when the lab was checked; the plan carries the result.
                mapping = Mapping(port['proto'], port['host_ip'], port['host_port'], member['address'],
                                  port['container_port'])
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
    summary['text'] = _text(summary)
    return summary


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


def _text(summary):
    """The summary as the lines a person reads in the play's output: the lab's totals, then a
    table of its networks and one of its namespaces, as ``containerlab inspect`` shows a lab."""
    totals = summary['totals']
    firewall = 'iptables %s' % summary['backend'] if summary['backend'] else 'not used'
    lines = _columns([['LAB', 'NETWORKS', 'NAMESPACES', 'PUBLISHED', 'SERVICES', 'FIREWALL'],
                      [summary.get('name') or DEFAULT_NAME] + [str(totals[key]) for key in (
                          'networks', 'namespaces', 'published', 'services')] + [firewall]])
    lines += [''] + _columns([['NETWORK', 'BRIDGE', 'SUBNET', 'GATEWAY', 'ICC', 'OUTBOUND']] + [
        [n['name'], n['bridge'], n['subnet'], n['gateway'], 'yes' if n['icc'] else 'no', _outbound(n)]
        for n in summary['networks']])
    if summary['namespaces']:
        lines += [''] + _columns(_namespace_rows(summary))
    return lines


def _node(text):
    """A Mermaid node id: letters, digits and underscores only."""
    return re.sub(r'[^A-Za-z0-9_]', '_', text)


def _label(text):
    return '"%s"' % text.replace('"', "'")


def lab_diagram(summary, host='host'):
    """A Markdown document holding a Mermaid flowchart of the lab ``summary`` describes.

    It shows the lab's own objects only: its bridges, namespaces and ports, and each uplink
    with the addresses of that link (not every address of the host, which would include the
    gateways of other labs on it).
    """
    lines = ['flowchart LR']
    uplinks = dict((n['uplink'], n.get('uplink_addresses') or []) for n in summary['networks'] if n['uplink'])
    lines.append('  outside((%s))' % _label('other machines / internet'))
    lines.append('  subgraph host_%s[%s]' % (_node(host), _label('host %s' % host)))
    for uplink in sorted(uplinks):
        addresses = ', '.join(uplinks[uplink])
        lines.append('    up_%s[%s]' % (_node(uplink), _label('%s %s' % (uplink, addresses) if addresses else uplink)))
    for network in summary['networks']:
        lines.append('    br_%s[%s]' % (_node(network['bridge']), _label('%s %s/%s' % (
            network['bridge'], network['gateway'], network['subnet'].split('/')[1]))))
    lines.append('  end')
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
