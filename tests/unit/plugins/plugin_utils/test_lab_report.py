# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's report on the controller: which host addresses it shows, and where its diagram goes."""

from __future__ import annotations


import os
import re

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import (
    diagram_location, host_addresses, lab_diagram, lab_summary)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE_DEFAULTS = os.path.join(REPO, 'roles', 'lab', 'defaults', 'main.yml')


def link(name, *addresses, kind='veth', master=None):
    """A host link as netns_info returns it."""
    return dict(name=name, kind=kind, up=True, mtu=1500, master=master, hairpin=False, addresses=list(addresses))


def host(*links):
    return {'host': {'links': [link('lo', '127.0.0.1/8', '::1/128', kind=None)] + list(links),
                     'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
            'namespaces': {}}


def port(host_port, container_port, proto='tcp', host_ip=None):
    """A published port as lab_plan keeps it parsed."""
    return dict(proto=proto, host_ip=host_ip, host_port=host_port, container_port=container_port)


def member(network, address, *ports, interface='eth0', host_interface=None, bridge=None, namespace='ns'):
    """A namespace's place on a network, as lab_plan gives it, with its published ``ports``
    (which :func:`planned` moves to the plan's ``publish``)."""
    return dict(network=network, bridge=bridge or network, interface=interface, address=address,
                host_interface=host_interface or '%s-%s' % (namespace, interface), ports=list(ports))


def planned(**fields):
    """A plan of ``fields`` in lab_plan's form: each member's ports in its ``publish`` item."""
    namespaces = [dict(ns, networks=[{key: value for key, value in m.items() if key != 'ports'} for m in ns['networks']])
                  for ns in fields['namespaces']]
    publish = [dict(bridge=m['bridge'], destination=m['address'], ports=m['ports'])
               for ns in fields['namespaces'] for m in ns['networks']]
    return dict(fields, namespaces=namespaces, publish=publish)


def plan(bridge, subnet, gateway, namespace, address, uplink='eth0', ports=(port(8000, 8000),)):
    """A lab_plan result with one network and one namespace on it (the fields the report reads)."""
    return planned(
        state='present',
        networks=[dict(name=bridge, bridge=bridge, subnet=subnet, gateway=gateway, uplink=uplink,
                       masquerade=True, icc=True)],
        namespaces=[dict(name=namespace, command=None,
                         networks=[member(bridge, address, *ports, namespace=namespace)])])


# This machine as a second lab leaves it: lab "one" (br0) built, and lab "two" (br1) with
# its namespace plugged in; Docker's docker0 and a second network card besides the uplink.
LAB_ONE = plan('br0', '10.0.0.0/24', '10.0.0.1', 'ns1', '10.0.0.2')
LAB_TWO = plan('br1', '10.1.0.0/24', '10.1.0.1', 'web', '10.1.0.2')
UPLINK = link('eth0', '198.51.100.2/24', 'fe80::1/64', kind=None)
ALONE = host(UPLINK)
CROWDED = host(UPLINK, link('eth1', '192.0.2.7/24', kind=None),
               link('br0', '10.0.0.1/24', kind='bridge'), link('ns1-eth0', master='br0'),
               link('br1', '10.1.0.1/24', kind='bridge'), link('web-eth0', master='br1'),
               link('docker0', '172.17.0.1/16', kind='bridge'))


def test_host_addresses_leave_out_every_bridge_and_loopback():
    assert host_addresses(CROWDED, {'br1'}) == ['198.51.100.2', '192.0.2.7']
    assert host_addresses(CROWDED, {'br0'}) == ['198.51.100.2', '192.0.2.7']


def test_a_bridge_that_is_the_uplink_keeps_its_addresses():
    info = host(link('eth0', master='lan'), link('lan', '198.51.100.2/24', kind='bridge'),
                link('br1', '10.1.0.1/24', kind='bridge'))
    assert host_addresses(info, {'br1'}, {'lan'}) == ['198.51.100.2']
    assert host_addresses(info, {'br1'}) == []


def test_the_summary_shows_the_uplinks_own_addresses_and_urls_without_other_labs():
    summary = lab_summary(LAB_TWO, CROWDED, 'nft', 'two')
    assert summary['name'] == 'two'
    assert summary['networks'][0]['uplink_addresses'] == ['198.51.100.2']
    assert summary['published'][0]['urls'] == [
        'http://127.0.0.1:8000/', 'http://198.51.100.2:8000/', 'http://192.0.2.7:8000/']


def test_the_diagram_shows_no_object_of_another_lab():
    diagram = lab_diagram(lab_summary(LAB_TWO, CROWDED, 'nft', 'two'), 'h1')
    assert 'up_eth0["eth0 198.51.100.2"]' in diagram
    assert 'br_br1["br1 10.1.0.1/24"]' in diagram and 'ns_web' in diagram
    for other in ('10.0.0.1', '10.0.0.2', 'br0', 'ns1', '172.17.0.1', 'docker0', '192.0.2.7', 'eth1'):
        assert other not in diagram


def test_a_labs_diagram_is_the_same_whatever_else_the_host_holds():
    for lab, name in ((LAB_ONE, 'lab'), (LAB_TWO, 'two')):
        assert (lab_diagram(lab_summary(lab, CROWDED, 'nft', name), 'h1')
                == lab_diagram(lab_summary(lab, ALONE, 'nft', name), 'h1'))


def test_an_uplink_without_ipv4_address_is_drawn_by_its_name():
    diagram = lab_diagram(lab_summary(LAB_ONE, host(link('eth0', 'fe80::1/64', kind=None))), 'h1')
    assert 'up_eth0["eth0"]' in diagram


def test_the_title_names_the_lab_unless_it_is_the_default_one():
    assert lab_diagram(lab_summary(LAB_ONE, ALONE), 'h1').startswith('# Lab on h1\n')
    assert lab_diagram(lab_summary(LAB_ONE, ALONE, name='lab'), 'h1').startswith('# Lab on h1\n')
    assert lab_diagram(lab_summary(LAB_TWO, ALONE, name='two'), 'h1').startswith('# Lab two on h1\n')


def test_a_relative_diagram_path_is_taken_from_the_working_directory():
    assert diagram_location('lab-h1.md', '/home/me/labs') == '/home/me/labs/lab-h1.md'
    assert diagram_location('out/../lab-h1.md', '/home/me/labs') == '/home/me/labs/lab-h1.md'
    assert diagram_location('/srv/diagrams/lab-h1.md', '/home/me/labs') == '/srv/diagrams/lab-h1.md'
    assert diagram_location('~/lab-h1.md', '/home/me/labs') == os.path.expanduser('~/lab-h1.md')


def default_diagram_path(**variables):
    """The role's default lab_diagram_path, rendered as Ansible renders it for a host."""
    loader = DataLoader()
    defaults = loader.load_from_file(ROLE_DEFAULTS, trusted_as_template=True)  # as Ansible loads a role's defaults
    return Templar(loader=loader, variables=dict(defaults, **variables)).template(defaults['lab_diagram_path'])


# What Ansible sets for an inventory file, a directory, a dynamic inventory plugin's file,
# a host list (-i localhost,: the string "None"), and a playbook run by its FQCN.
INVENTORIES = [
    dict(inventory_dir='/home/me/inventories/local', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='/home/me/inventories', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='/home/me/inventories/ec2', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='None', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='None', playbook_dir='/usr/share/ansible/collections/ansible_collections/nslab/net/playbooks'),
]


def test_the_default_diagram_path_is_in_the_working_directory_whatever_the_inventory():
    for variables in INVENTORIES:
        for name, expected in ((None, 'lab-h1.md'), ('lab', 'lab-h1.md'), ('web.v2', 'web.v2-h1.md')):
            given = dict(variables, inventory_hostname='h1', **({'lab_name': name} if name else {}))
            assert default_diagram_path(**given) == expected, given
            assert diagram_location(expected, '/home/me/work') == '/home/me/work/' + expected


def test_the_role_defaults_keep_the_lab_name_in_the_diagram_file_name():
    with open(ROLE_DEFAULTS, encoding='utf-8') as handle:
        defaults = yaml.safe_load(handle)
    assert 'inventory_dir' not in defaults['lab_diagram_path'] and 'playbook_dir' not in defaults['lab_diagram_path']
    assert 'lab_name' in defaults['lab_diagram_path']


# A lab as the role's README shows one: two networks, a namespace on both, ports on each.
SHOP = planned(
    state='present',
    networks=[dict(name='front', bridge='br-front', subnet='10.10.0.0/24', gateway='10.10.0.1', uplink='eth0',
                   masquerade=True, icc=True),
              dict(name='back', bridge='br-back', subnet='10.20.0.0/24', gateway='10.20.0.1', uplink=None,
                   masquerade=False, icc=False)],
    namespaces=[
        dict(name='web', command='python3 -m http.server 80', networks=[member(
            'front', '10.10.0.2', port(8080, 80), port(8443, 443, host_ip='127.0.0.1'), port(5353, 53, 'udp'),
            bridge='br-front', namespace='web')]),
        dict(name='api', command=None, networks=[
            member('front', '10.10.0.3', bridge='br-front', namespace='api'),
            member('back', '10.20.0.50', port(9000, 9000), bridge='br-back', interface='eth1',
                   host_interface='api-back')]),
        dict(name='database', command='sleep infinity', networks=[
            member('back', '10.20.0.2', bridge='br-back', namespace='database')])])


def table(lines, header):
    """The table of ``lines`` that starts with the header row whose first column is ``header``."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header + ' '))
    end = lines.index('', start) if '' in lines[start:] else len(lines)
    return lines[start:end]


def cell(line, header_line, column):
    """The text of ``line`` in the column whose header is ``column``, found by the header's position."""
    starts = [match.start() for match in re.finditer(r'\S+', header_line)]
    start = re.search(r'\b%s\b' % column, header_line).start()
    following = [where for where in starts if where > start]
    return line[start:following[0] if following else None].strip()


def test_the_text_opens_with_the_labs_totals():
    summary = lab_summary(SHOP, ALONE, 'nft', 'shop')
    assert summary['totals'] == dict(networks=2, namespaces=3, published=4, services=2)
    header, values = summary['text'][:2]
    assert header.split() == ['LAB', 'NETWORKS', 'NAMESPACES', 'PUBLISHED', 'SERVICES', 'FIREWALL']
    assert [cell(values, header, column) for column in header.split()] == ['shop', '2', '3', '4', '2', 'iptables nft']
    header, values = lab_summary(LAB_ONE, ALONE)['text'][:2]
    assert cell(values, header, 'LAB') == 'lab' and cell(values, header, 'FIREWALL') == 'not used'


def test_each_network_is_one_line_of_its_table():
    rows = table(lab_summary(SHOP, ALONE, 'nft', 'shop')['text'], 'NETWORK')
    assert [[cell(row, rows[0], column) for column in rows[0].split()] for row in rows[1:]] == [
        ['front', 'br-front', '10.10.0.0/24', '10.10.0.1', 'yes', 'NAT out of eth0 (198.51.100.2)'],
        ['back', 'br-back', '10.20.0.0/24', '10.20.0.1', 'no', 'no NAT']]


def test_each_namespace_is_a_row_with_its_addresses_ports_urls_and_service():
    rows = table(lab_summary(SHOP, ALONE, 'nft', 'shop')['text'], 'NAMESPACE')
    assert [[cell(row, rows[0], column) for column in rows[0].split()] for row in rows[1:]] == [
        ['web', 'front', 'eth0 10.10.0.2', '0.0.0.0:8080->80/tcp',
         'http://127.0.0.1:8080/ http://198.51.100.2:8080/', 'python3 -m http.server 80'],
        ['', '', '', '127.0.0.1:8443->443/tcp', 'http://127.0.0.1:8443/', ''],
        ['', '', '', '0.0.0.0:5353->53/udp', 'udp://127.0.0.1:5353 udp://198.51.100.2:5353', ''],
        ['api', 'front', 'eth0 10.10.0.3', '', '', ''],
        ['', 'back', 'eth1 10.20.0.50', '0.0.0.0:9000->9000/tcp',
         'http://127.0.0.1:9000/ http://198.51.100.2:9000/', ''],
        ['database', 'back', 'eth0 10.20.0.2', '', '', 'sleep infinity']]


def test_the_text_shows_every_url_and_no_line_ends_in_spaces():
    summary = lab_summary(SHOP, CROWDED, 'legacy', 'shop')
    text = '\n'.join(summary['text'])
    urls = [url for port in summary['published'] for url in port['urls']]
    assert len(urls) == 10 and all(url in text for url in urls)
    assert all(line == line.rstrip() for line in summary['text'])


def test_a_hundred_namespaces_make_a_hundred_lines_after_the_totals():
    namespaces = [dict(name='ns%d' % i, command=None, networks=[member(
        'br0', '10.0.%d.%d' % (i // 256, i % 256), *([port(8000 + i, 80)] if i % 10 == 1 else []),
        namespace='ns%d' % i)]) for i in range(2, 102)]
    big = planned(state='present', networks=LAB_ONE['networks'], namespaces=namespaces)
    text = lab_summary(big, ALONE, 'nft')['text']
    assert len(text) == 2 + 1 + 2 + 1 + 1 + 100
    rows = table(text, 'NAMESPACE')
    assert [row.split()[0] for row in rows[1:]] == ['ns%d' % i for i in range(2, 102)]
    assert cell(rows[10], rows[0], 'URLS') == 'http://127.0.0.1:8011/ http://198.51.100.2:8011/'


# The shop's host in an overlay of four: two peers reached (one with a network the shop has
# not), and one whose underlay address no run has learnt yet.
OVERLAY = dict(
    device='nslab.42', vni=42, port=4789, address='198.51.100.11', underlay='eth0', mtu=1450,
    peers=[dict(name='host2', address='198.51.100.12', networks=[
                dict(network='front', subnet='10.11.0.0/24'), dict(network='back', subnet='10.21.0.0/24')]),
           dict(name='host3', address='198.51.100.13', networks=[
               dict(network='front', subnet='10.12.0.0/24'), dict(network='db', subnet='10.32.0.0/24')])],
    unknown=['host9'])

# What the shop's summary and diagram were before the overlay existed, word for word.
SHOP_TEXT = [
    'LAB   NETWORKS  NAMESPACES  PUBLISHED  SERVICES  FIREWALL',
    'shop  2         3           4          2         iptables nft',
    '',
    'NETWORK  BRIDGE    SUBNET        GATEWAY    ICC  OUTBOUND',
    'front    br-front  10.10.0.0/24  10.10.0.1  yes  NAT out of eth0 (198.51.100.2)',
    'back     br-back   10.20.0.0/24  10.20.0.1  no   no NAT',
    '',
    'NAMESPACE  NETWORK  ADDRESS          PUBLISHED                URLS                                              '
    'SERVICE',
    'web        front    eth0 10.10.0.2   0.0.0.0:8080->80/tcp     http://127.0.0.1:8080/ http://198.51.100.2:8080/  '
    'python3 -m http.server 80',
    '                                     127.0.0.1:8443->443/tcp  http://127.0.0.1:8443/',
    '                                     0.0.0.0:5353->53/udp     udp://127.0.0.1:5353 udp://198.51.100.2:5353',
    'api        front    eth0 10.10.0.3',
    '           back     eth1 10.20.0.50  0.0.0.0:9000->9000/tcp   http://127.0.0.1:9000/ http://198.51.100.2:9000/',
    'database   back     eth0 10.20.0.2                                                                              '
    'sleep infinity',
]
LAB_ONE_DIAGRAM = '''# Lab on h1

```mermaid
flowchart LR
  outside(("other machines / internet"))
  subgraph host_h1["host h1"]
    up_eth0["eth0 198.51.100.2"]
    br_br0["br0 10.0.0.1/24"]
  end
  up_eth0 --- outside
  br_br0 -- "NAT" --> up_eth0
  ns_ns1["ns1<br/>eth0 10.0.0.2"]
  ns_ns1 --- br_br0
  port_0>"0.0.0.0:8000/tcp -> 10.0.0.2:8000"] --> ns_ns1
```
'''


def test_a_lab_without_overlay_is_reported_as_before_the_overlay_existed():
    # A plan of this release without an overlay says None; one of an older release has no key.
    for shop, lab_one in ((SHOP, LAB_ONE), (dict(SHOP, overlay=None), dict(LAB_ONE, overlay=None))):
        summary = lab_summary(shop, ALONE, 'nft', 'shop')
        assert summary['text'] == SHOP_TEXT
        assert 'overlay' not in summary
        assert set(summary['totals']) == {'networks', 'namespaces', 'published', 'services'}
        assert summary == lab_summary(SHOP, ALONE, 'nft', 'shop')
        assert lab_diagram(summary, 'h1') == lab_diagram(lab_summary(SHOP, ALONE, 'nft', 'shop'), 'h1')
        assert lab_diagram(lab_summary(lab_one, ALONE, 'nft'), 'h1') == LAB_ONE_DIAGRAM


def test_the_summary_holds_the_overlay_as_data():
    summary = lab_summary(dict(SHOP, overlay=dict(OVERLAY, mac='02:4e:c6:33:64:0b', device_mtu=1450)), ALONE, 'nft',
                          'shop')
    assert summary['overlay'] == OVERLAY
    assert summary['totals'] == dict(networks=2, namespaces=3, published=4, services=2, peers=2)


def test_the_totals_count_the_peers():
    header, values = lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop')['text'][:2]
    assert header.split() == ['LAB', 'NETWORKS', 'NAMESPACES', 'PUBLISHED', 'SERVICES', 'PEERS', 'FIREWALL']
    assert [cell(values, header, column) for column in header.split()] == [
        'shop', '2', '3', '4', '2', '2', 'iptables nft']


def test_the_overlay_is_one_line_of_its_table():
    rows = table(lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop')['text'], 'OVERLAY')
    assert [[cell(row, rows[0], column) for column in rows[0].split()] for row in rows[1:]] == [
        ['nslab.42', '42', '4789/udp', 'eth0 198.51.100.11', '1450']]


def test_each_peer_subnet_is_a_row_and_a_peer_without_address_is_unknown():
    rows = table(lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop')['text'], 'PEER')
    assert [[cell(row, rows[0], column) for column in rows[0].split()] for row in rows[1:]] == [
        ['host2', '198.51.100.12', 'front', '10.11.0.0/24'],
        ['', '', 'back', '10.21.0.0/24 (not reached: icc off)'],
        ['host3', '198.51.100.13', 'front', '10.12.0.0/24'],
        ['', '', 'db', '10.32.0.0/24 (not reached: no network db here)'],
        ['host9', 'unknown', '', '']]


def test_the_overlay_tables_come_between_the_networks_and_the_namespaces():
    text = lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop')['text']
    starts = [next(i for i, line in enumerate(text) if line.startswith(header + ' '))
              for header in ('NETWORK', 'OVERLAY', 'PEER', 'NAMESPACE')]
    assert starts == sorted(starts)
    assert text[starts[0]:starts[1]] == SHOP_TEXT[3:7] and text[starts[3]:] == SHOP_TEXT[7:]
    assert all(line == line.rstrip() for line in text)


def test_an_overlay_of_one_host_has_no_peer_table():
    alone = dict(OVERLAY, peers=[], unknown=[])
    summary = lab_summary(dict(LAB_ONE, overlay=alone), ALONE, 'nft')
    assert summary['totals']['peers'] == 0
    assert table(summary['text'], 'OVERLAY')[1].split()[0] == 'nslab.42'
    assert not any(line.startswith('PEER ') for line in summary['text'])
    diagram = lab_diagram(summary, 'h1')
    assert 'vx_nslab_42[' in diagram and 'peer_' not in diagram and 'subgraph overlay_' not in diagram


def test_the_diagram_shows_the_device_the_peers_and_where_each_subnet_lives():
    diagram = lab_diagram(lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop'), 'h1')
    lines = diagram.splitlines()
    host_end = lines.index('  end')
    device = '    vx_nslab_42["nslab.42 VXLAN VNI 42<br/>eth0 198.51.100.11 udp/4789<br/>lab MTU 1450"]'
    assert device in lines[:host_end]
    assert lines[host_end + 1:host_end + 6] == [
        '  subgraph overlay_nslab_42["other hosts of the overlay (VNI 42)"]',
        '    peer_0["host2 198.51.100.12<br/>front 10.11.0.0/24<br/>back 10.21.0.0/24"]',
        '    peer_1["host3 198.51.100.13<br/>front 10.12.0.0/24<br/>db 10.32.0.0/24"]',
        '    peer_2["host9<br/>address unknown"]',
        '  end']
    assert '  vx_nslab_42 --- peer_0' in lines and '  vx_nslab_42 --- peer_1' in lines
    assert '  vx_nslab_42 -.- peer_2' in lines
    # front is shared and icc is on; back has icc off, so nothing of it crosses.
    assert '  br_br_front --- vx_nslab_42' in lines and 'br_br_back --- vx' not in diagram


def test_the_overlay_leaves_the_rest_of_the_diagram_as_it_was():
    before = lab_diagram(lab_summary(SHOP, ALONE, 'nft', 'shop'), 'h1').splitlines()
    after = lab_diagram(lab_summary(dict(SHOP, overlay=OVERLAY), ALONE, 'nft', 'shop'), 'h1').splitlines()
    overlay_lines = [line for line in after if 'vx_' in line or 'peer_' in line or 'overlay_' in line]
    rest = [line for line in after if line not in overlay_lines]
    # The overlay subgraph's own "end" is the only other line it adds.
    rest.remove('  end')
    assert rest == before


# The names: what the namespaces resolve with, as lab_plan's ``names`` says.
def resolver(*nameservers, search=(), source='/etc/resolv.conf'):
    return dict(nameservers=list(nameservers), search=list(search), options=[], source=source)


HOSTS_RESOLVER = resolver('192.0.2.53', search=['corp.example'])


def shop_with_names(**resolvers):
    return dict(SHOP, names=dict(lab='shop', warnings=[], resolvers=resolvers))


def test_one_resolver_for_every_namespace_is_one_line_after_the_namespaces():
    summary = lab_summary(shop_with_names(web=HOSTS_RESOLVER, api=HOSTS_RESOLVER, database=HOSTS_RESOLVER), ALONE,
                          'nft', 'shop')
    assert summary['names'] == dict(managed=True, hosts='NAME and NAME.shop', resolvers=[
        dict(resolver=HOSTS_RESOLVER, namespaces=['api', 'database', 'web'])])
    assert summary['text'] == SHOP_TEXT + [
        '',
        'NAMES    /etc/netns/NAMESPACE/hosts: the namespaces of its networks, as NAME and NAME.shop',
        "         /etc/netns/NAMESPACE/resolv.conf: nameserver 192.0.2.53, search corp.example (the host's)"]


def test_each_resolver_names_the_namespaces_that_use_it_and_where_it_came_from():
    fallback = resolver('8.8.8.8', '8.8.4.4', source='fallback')
    upstream = resolver('10.11.0.2', '10.11.0.3', search=['ec2.internal'], source='/run/systemd/resolve/resolv.conf')
    declared = resolver('203.0.113.53', source='dns')
    text = lab_summary(shop_with_names(web=declared, api=fallback, database=upstream), ALONE, 'nft', 'shop')['text']
    start = text.index('NAMES    /etc/netns/NAMESPACE/hosts: the namespaces of its networks, as NAME and NAME.shop')
    assert text[start + 1:] == [
        "         /etc/netns/NAMESPACE/resolv.conf of api: nameserver 8.8.8.8 8.8.4.4 (Docker's fallback: the host "
        "has no nameserver a namespace reaches; set lab_dns)",
        '         /etc/netns/NAMESPACE/resolv.conf of database: nameserver 10.11.0.2 10.11.0.3, search ec2.internal '
        "(systemd-resolved's upstream: the host's resolv.conf names only loopback servers)",
        '         /etc/netns/NAMESPACE/resolv.conf of web: nameserver 203.0.113.53 (declared)']
    assert all(line == line.rstrip() for line in text)


def test_namespaces_sharing_a_resolver_share_its_line():
    declared = resolver('203.0.113.53', source='dns')
    summary = lab_summary(shop_with_names(web=declared, api=HOSTS_RESOLVER, database=declared), ALONE, 'nft', 'shop')
    assert [group['namespaces'] for group in summary['names']['resolvers']] == [['api'], ['database', 'web']]
    assert summary['text'][-1] == ('         /etc/netns/NAMESPACE/resolv.conf of database web: nameserver 203.0.113.53 '
                                   '(declared)')


def test_names_not_managed_say_so_in_one_line():
    summary = lab_summary(dict(SHOP, names=None), ALONE, 'nft', 'shop')
    assert summary['names'] == dict(managed=False, resolvers=[])
    assert summary['text'] == SHOP_TEXT + [
        '', "NAMES    not managed (lab_names is false): namespaces see the host's /etc/hosts and /etc/resolv.conf"]


def test_a_torn_down_lab_and_a_lab_without_namespaces_show_no_names():
    torn = lab_summary(dict(SHOP, state='absent', namespaces=[], names=None), ALONE, 'nft', 'shop')
    assert 'names' not in torn and not any(line.startswith('NAMES') for line in torn['text'])
    empty = lab_summary(dict(SHOP, namespaces=[], names=dict(lab='shop', warnings=[], resolvers={})), ALONE, 'nft',
                        'shop')
    assert empty['names']['managed'] is True
    assert not any(line.startswith('NAMES') for line in empty['text'])


def test_the_names_leave_the_diagram_as_it_was():
    with_names = shop_with_names(web=HOSTS_RESOLVER, api=HOSTS_RESOLVER, database=HOSTS_RESOLVER)
    assert (lab_diagram(lab_summary(with_names, ALONE, 'nft', 'shop'), 'h1')
            == lab_diagram(lab_summary(SHOP, ALONE, 'nft', 'shop'), 'h1'))
