# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a lab collides with on its host: sockets, other owners' DNAT rules, addresses, links.

/proc/net lines are written as a little-endian kernel prints them (the tcp6 lines cut after the
inode, to fit a line); the rulesets are built from iptables-save text and from the publish rules
the collection itself writes.
"""

from __future__ import annotations


import os
import sys

import pytest

from ansible_collections.nslab.net.plugins.module_utils._lab import collisions as checks
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import parse_save
from ansible_collections.nslab.net.plugins.module_utils._lab.collision_readers import (
    listening_sockets, parse_proc_net, socket_processes)
from ansible_collections.nslab.net.plugins.module_utils._lab.collisions import (
    ForeignPort, Listener, foreign_published, host_collisions, host_warnings, published_ports)
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView, describe
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import parse_ports
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import destination_rules
from nslab_sandbox.docker_host import docker_restore_text

little_endian = pytest.mark.skipif(sys.byteorder != 'little', reason='the /proc/net lines are a little-endian host\'s')

DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 026433C6:1F40 0A6433C6:C350 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1
   1: 0000000000000000FFFF00000100007F:1F43 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1
   2: 00000000000000000000000001000000:1F44 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1
"""
UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3001 2 0000000000000000 0
  101: 026433C6:D431 0A6433C6:0035 01 00000000:00000000 00:00000000 00000000     0        0 3002 2 0000000000000000 0
"""


def spec(**variables):
    return lab_spec(dict(DEFAULTS, **variables))


def one_namespace(*ports, **variables):
    return spec(namespaces=[dict(name='ns1', address='10.0.0.2', publish=list(ports))], **variables)


def host(*links, default_via='eth0'):
    """A host_state as lab_network reads it: eth0 (the uplink) plus ``links``."""
    view = NamespaceView(links=[Link('eth0', index=2, kind='veth', up=True, addresses=['198.51.100.2/24'])]
                         + list(links),
                         default_routes={4: ('198.51.100.1', default_via)} if default_via else {})
    return dict(host=describe(view), namespaces={})


def listener(proto, address, port, process=None):
    return Listener(proto, address, port, 0, process)


# -- the socket reader ----------------------------------------------------------------------

@little_endian
def test_proc_net_lines_give_listening_tcp_and_unconnected_udp_sockets():
    assert parse_proc_net(TCP, 'tcp', False, '0A') == [
        Listener('tcp', '0.0.0.0', 8000, 1001, None), Listener('tcp', '127.0.0.1', 9000, 1002, None)]
    assert parse_proc_net(TCP6, 'tcp', True, '0A') == [
        Listener('tcp', '::', 8002, 2001, None), Listener('tcp', '127.0.0.1', 8003, 2002, None),
        Listener('tcp', '::1', 8004, 2003, None)]
    # A connected UDP socket (a DNS query's) is a client, not a server on its port.
    assert parse_proc_net(UDP, 'udp', False, '07') == [Listener('udp', '0.0.0.0', 5353, 3001, None)]


@little_endian
def test_listening_sockets_reads_the_four_files_keeps_the_ports_asked_for_and_names_no_one(tmp_path):
    for name, text in (('tcp', TCP), ('tcp6', TCP6), ('udp', UDP)):  # no udp6: IPv6 is off
        (tmp_path / name).write_text(text)
    found = listening_sockets(directory=str(tmp_path), processes=False)
    assert [(s.proto, s.address, s.port) for s in found] == [
        ('tcp', '0.0.0.0', 8000), ('tcp', '127.0.0.1', 9000), ('tcp', '::', 8002), ('tcp', '127.0.0.1', 8003),
        ('tcp', '::1', 8004), ('udp', '0.0.0.0', 5353)]
    kept = listening_sockets(ports={('tcp', 9000), ('udp', 5353), ('udp', 8000)}, directory=str(tmp_path),
                             processes=False)
    assert [(s.proto, s.port) for s in kept] == [('tcp', 9000), ('udp', 5353)]


def test_socket_processes_finds_the_holder_of_each_inode_and_skips_what_it_cannot_read(tmp_path):
    for pid, comm, links in ((40, 'nginx', {'3': 'socket:[77]', '4': '/dev/null'}),
                             (41, 'nginx', {'5': 'socket:[77]'}),
                             (42, 'python3', {'0': 'pipe:[5]', '6': 'socket:[88]'})):
        fd_dir = tmp_path / str(pid) / 'fd'
        fd_dir.mkdir(parents=True)
        (tmp_path / str(pid) / 'comm').write_text(comm + '\n')
        for fd, target in links.items():
            os.symlink(target, str(fd_dir / fd))
    (tmp_path / '43').mkdir()  # gone while scanning: no fd directory
    (tmp_path / 'self').mkdir()
    assert socket_processes({77, 88, 99}, proc=str(tmp_path)) == {77: 'nginx (pid 40)', 88: 'python3 (pid 42)'}
    assert socket_processes(set(), proc=str(tmp_path)) == {}


# -- other owners' DNAT rules ---------------------------------------------------------------

USER_NAT = """*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:USER-PORTS - [0:0]
-A PREROUTING -d 192.0.2.10/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.9.0.2:443
-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128
-A USER-PORTS -p udp -m udp --dport 6000:6009 -j DNAT --to-destination 10.9.0.3
-A USER-PORTS -p tcp -m multiport --dports 25,587,9000:9001 -m comment --comment "mail relay" -j DNAT --to-destination 10.9.0.4
-A USER-PORTS -p tcp -m tcp ! --dport 22 -j DNAT --to-destination 10.9.0.5
-A USER-PORTS -p tcp -j DNAT --to-destination 10.9.0.6
-A USER-PORTS -p tcp -m tcp --dport 81 -j ACCEPT
COMMIT
"""


def lab_rules(ruleset, bridge, destination, *specs):
    for spec_text in specs:
        for rule in destination_rules(bridge, destination, parse_ports(spec_text, destination)):
            if rule.table == 'nat':
                ruleset.append(rule)


def test_foreign_published_finds_dockers_users_and_other_labs_ports_but_not_this_labs():
    ruleset = parse_save(docker_restore_text() + USER_NAT)
    lab_rules(ruleset, 'br0', '10.0.0.2', '8000:8000')
    lab_rules(ruleset, 'br1', '10.1.0.2', '7000:7000', '127.0.0.1:7001:7001')
    found = foreign_published(ruleset, own_bridges=['br0'])
    assert [(f.proto, f.first, f.last, str(f.destination) if f.destination else None, f.bridge) for f in found] == [
        ('tcp', 8080, 8080, None, None),
        ('tcp', 443, 443, '192.0.2.10/32', None),
        ('tcp', 80, 80, None, None),
        ('udp', 6000, 6009, None, None),
        ('tcp', 25, 25, None, None), ('tcp', 587, 587, None, None), ('tcp', 9000, 9001, None, None),
        ('tcp', 7000, 7000, None, 'br1'),
        ('tcp', 7001, 7001, '127.0.0.1/32', 'br1'),
    ]
    docker = [f for f in found if f.first == 8080][0]
    assert docker.line == ('-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT'
                           ' --to-destination 172.17.0.2:80')
    assert found[-1].address == '10.1.0.2'
    assert [f.first for f in foreign_published(ruleset)][-3:] == [8000, 7000, 7001]


# -- the checks -----------------------------------------------------------------------------

def test_a_port_a_host_socket_listens_on_collides_per_address_and_protocol():
    listening = [listener('tcp', '0.0.0.0', 8000), listener('tcp', '127.0.0.1', 9000),
                 listener('tcp', '::', 8002), listener('tcp', '::1', 8004), listener('tcp', '127.0.0.1', 8003),
                 listener('udp', '0.0.0.0', 5353), listener('tcp', '0.0.0.0', 53)]
    lab = one_namespace('8000:8000', '9000:9000', '8002:8002', '8004:8004', '8003:8003', '5353:53/udp', '53:53/udp')
    assert host_collisions(lab, host(), listening=listening) == [
        'namespace ns1: host port 5353/udp is in use on the host (a process listens on 0.0.0.0:5353)',
        'namespace ns1: host port 8000/tcp is in use on the host (a process listens on 0.0.0.0:8000)',
        'namespace ns1: host port 8002/tcp is in use on the host (a process listens on [::]:8002)',
        'namespace ns1: host port 8003/tcp is in use on the host (a process listens on 127.0.0.1:8003)',
        'namespace ns1: host port 9000/tcp is in use on the host (a process listens on 127.0.0.1:9000)',
    ]
    on_addresses = one_namespace('127.0.0.1:9000:9001', '127.0.0.2:9001:9000', '127.0.0.2:8000:8000',
                                 '127.0.0.1:8002:8003', '127.0.0.2:8003:8003', '127.0.0.1:8004:8004')
    # 9001 is free; a socket on 127.0.0.1 does not hold 127.0.0.2; ::1 is not IPv4.
    listening.append(listener('tcp', '127.0.0.1', 9001))
    assert host_collisions(on_addresses, host(), listening=listening) == [
        'namespace ns1: host port 127.0.0.2:8000/tcp is in use on the host (a process listens on 0.0.0.0:8000)',
        'namespace ns1: host port 127.0.0.1:8002/tcp is in use on the host (a process listens on [::]:8002)',
        'namespace ns1: host port 127.0.0.1:9000/tcp is in use on the host (a process listens on 127.0.0.1:9000)',
    ]


def test_the_holder_is_named_when_known_and_sockets_of_one_port_share_a_message():
    listening = [listener('tcp', '0.0.0.0', 8000, 'nginx (pid 40)'), listener('tcp', '::', 8000, 'nginx (pid 40)'),
                 listener('tcp', '0.0.0.0', 8000, 'nginx (pid 40)')]
    assert host_collisions(one_namespace('8000:80'), host(), listening=listening) == [
        'namespace ns1: host port 8000/tcp is in use on the host (nginx (pid 40) listens on 0.0.0.0:8000;'
        ' nginx (pid 40) listens on [::]:8000)']


def test_ports_another_owner_publishes_collide_and_name_the_rule_or_the_lab():
    ruleset = parse_save(docker_restore_text() + USER_NAT)
    lab_rules(ruleset, 'br0', '10.0.0.9', '8080:8080')  # this lab's own, rewritten by it
    lab_rules(ruleset, 'br1', '10.1.0.2', '7000-7002:7000-7002')
    lab_rules(ruleset, 'br2', '10.2.0.2', '127.0.0.1:7100:7100')
    foreign = foreign_published(ruleset)
    lab = spec(namespaces=[
        dict(name='web', publish=['8080:80', '6005:6005/udp', '6005:6005', '127.0.0.1:443:443', '192.0.2.10:443:443',
                                  '9000-9005:9000-9005']),
        dict(name='api', publish=['7000-7010:7000-7010', '7100:7100', '127.0.0.2:7101:7100', '25:25'])])
    assert host_collisions(lab, host(), owned_bridges=['br0'], other_labs={'br1': 'shop'}, foreign=foreign) == [
        'namespace web: host port 192.0.2.10:443/tcp is already published by the nat rule -A PREROUTING'
        ' -d 192.0.2.10/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.9.0.2:443',
        'namespace web: host port 6005/udp is already published by the nat rule -A USER-PORTS -p udp -m udp'
        ' --dport 6000:6009 -j DNAT --to-destination 10.9.0.3',
        'namespace web: host port 8080/tcp is already published by the nat rule -A DOCKER ! -i docker0 -p tcp'
        ' -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
        'namespace web: host ports 9000-9001/tcp are already published by the nat rule -A USER-PORTS -p tcp -m multiport'
        ' --dports 25,587,9000:9001 -m comment --comment "mail relay" -j DNAT --to-destination 10.9.0.4',
        'namespace api: host port 25/tcp is already published by the nat rule -A USER-PORTS -p tcp -m multiport'
        ' --dports 25,587,9000:9001 -m comment --comment "mail relay" -j DNAT --to-destination 10.9.0.4',
        'namespace api: host ports 7000-7002/tcp are already published by lab shop (bridge br1)',
        'namespace api: host port 7100/tcp is already published by nslab.net rules of bridge br2, which is not'
        ' this lab\'s',
    ]


def test_gateway_and_subnet_collide_with_the_hosts_networks_but_not_with_the_labs_own_bridge():
    links = [Link('docker0', index=3, kind='bridge', up=True, addresses=['172.17.0.1/16']),
             Link('br0', index=4, kind='bridge', up=True, addresses=['10.0.0.1/24']),
             Link('br1', index=5, kind='bridge', up=True, addresses=['10.1.0.1/24']),
             Link('lo', index=1, addresses=['127.0.0.1/8', '::1/128'])]
    assert host_collisions(spec(), host(*links), owned_bridges=['br0']) == []
    assert host_collisions(spec(subnet='198.51.100.0/24', gateway='198.51.100.2'), host(*links)) == [
        'network br0: gateway 198.51.100.2 is already an address of eth0 on the host (198.51.100.2/24);'
        ' the lab would take it away from there']
    assert host_collisions(spec(subnet='198.51.100.128/25'), host(*links)) == [
        'network br0: subnet 198.51.100.128/25 overlaps 198.51.100.0/24, the network of eth0 on the host'
        ' (198.51.100.2/24); the host would no longer know which way to send it']
    networks = [dict(name='a', bridge='br0', subnet='172.17.128.0/24'),
                dict(name='b', bridge='br9', subnet='10.1.0.0/16', gateway='10.1.0.254')]
    assert host_collisions(spec(networks=networks), host(*links), owned_bridges=['br0'],
                           other_labs={'br1': 'shop'}) == [
        'network a: subnet 172.17.128.0/24 overlaps 172.17.0.0/16, the network of docker0 on the host'
        ' (172.17.0.1/16); the host would no longer know which way to send it',
        'network b: subnet 10.1.0.0/16 overlaps 10.1.0.0/24, the network of bridge br1 of lab shop'
        ' (10.1.0.1/24); the host would no longer know which way to send it']
    # Without the record, br0's address is somebody else's.
    assert host_collisions(spec(), host(*links)) == [
        'network br0: gateway 10.0.0.1 is already an address of br0 on the host (10.0.0.1/24);'
        ' the lab would take it away from there']


def test_a_missing_uplink_and_a_bridge_name_held_by_another_kind_of_link_collide():
    assert host_collisions(spec(uplink='eth9'), host()) == [
        'network br0: uplink eth9 does not exist on the host (its links: eth0)']
    assert host_collisions(spec(uplink='eth0'), host()) == []
    assert host_collisions(spec(bridge='eth0', subnet='10.0.0.0/24'), host()) == [
        'network eth0: bridge eth0 cannot be made: the host already has a link of that name, of kind veth']
    assert host_collisions(spec(bridge='enp1s0'), host(Link('enp1s0', index=3))) == [
        'network enp1s0: bridge enp1s0 cannot be made: the host already has a link of that name,'
        ' of kind none (a device)']
    assert host_collisions(spec(bridge='br7'), host(Link('br7', index=3, kind='bridge'))) == []


def test_a_teardown_collides_with_nothing_and_absent_namespaces_publish_nothing():
    listening = [listener('tcp', '0.0.0.0', 8000)]
    lab = spec(subnet='198.51.100.0/24', namespaces=[dict(name='ns1', publish=['8000:8000'])])
    assert host_collisions(dict(lab, state='absent'), host(), listening=listening) == []
    gone = one_namespace('8000:8000')
    gone['namespaces'][0]['state'] = 'absent'
    assert host_collisions(gone, host(), listening=listening) == []
    assert published_ports(gone) == set()
    assert published_ports(one_namespace('8000-8001:80-81', '53:53/udp')) == {
        ('tcp', 8000), ('tcp', 8001), ('udp', 53)}


def test_nat_with_no_uplink_and_no_default_route_is_a_warning_not_a_collision():
    no_route = host(default_via=None)
    assert host_collisions(spec(), no_route) == []
    assert host_warnings(spec(), no_route) == [
        'network br0: the host has no IPv4 default route and no uplink is given, so its traffic is masqueraded'
        ' out of every interface but br0; set uplink to say which']
    assert host_warnings(spec(masquerade=False), no_route) == []
    assert host_warnings(spec(uplink='eth0'), no_route) == []
    assert host_warnings(spec(), host()) == []
    assert host_warnings(dict(spec(), state='absent'), no_route) == []


def test_the_port_checks_are_linear_in_the_ports(monkeypatch):
    """2000 published ports against 2000 listeners and 2000 rules: one comparison per candidate pair."""
    calls = {'listen': 0, 'foreign': 0}
    for name, key in (('_listener_collides', 'listen'), ('_foreign_collides', 'foreign')):
        original = getattr(checks, name)

        def counting(mapping, other, original=original, key=key):
            calls[key] += 1
            return original(mapping, other)
        monkeypatch.setattr(checks, name, counting)
    lab = spec(subnet='10.0.0.0/16', namespaces=[
        dict(name='ns%d' % i, publish=['%d-%d:1-100' % (20000 + 100 * i, 20099 + 100 * i)]) for i in range(20)])
    listening = [listener('tcp', '127.0.0.1', port) for port in range(40000, 42000)]
    listening.append(listener('tcp', '0.0.0.0', 20050))
    foreign = [ForeignPort('tcp', port, port, None, False, '-A X', None, None) for port in range(30000, 32000)]
    foreign.append(ForeignPort('tcp', 1, 65535, None, False, '-A EVERYTHING', None, None))
    messages = host_collisions(lab, host(), listening=listening, foreign=foreign)
    assert calls == {'listen': 1, 'foreign': 2000}
    assert messages[0] == 'namespace ns0: host port 20050/tcp is in use on the host (a process listens on 0.0.0.0:20050)'
    assert messages[1] == 'namespace ns0: host ports 20000-20099/tcp are already published by the nat rule -A EVERYTHING'
    assert len(messages) == 21


def test_a_dnat_rule_whose_port_option_has_no_value_is_not_read_as_a_port():
    """iptables-save never writes one; a hand-made ruleset text could, and must not crash the check."""
    from ansible_collections.nslab.net.plugins.module_utils._lab.collisions import _parse_dnat  # pylint: disable=import-outside-toplevel
    assert _parse_dnat(('-p', 'tcp', '-j', 'DNAT', '--dport')) is None
    assert _parse_dnat(('-p', 'tcp', '--dport', '8080', '-j', 'DNAT')) is not None  # positive control
