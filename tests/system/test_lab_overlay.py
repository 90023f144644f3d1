# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VXLAN overlay on a fleet in the sandbox, driven over real SSH by one ``ansible-playbook``.

Each host of the fleet (:mod:`nslab_sandbox.fleet`) is its own network and mount namespace on
the underlay 198.51.100.0/24; the controller is the world's host node. Each lab host has three
networks: ``br0`` (namespaces ``web``, whose service echoes the client's address on port 8000,
published, and ``client``), ``db`` (``dbc``) and ``iso`` (``isoc``, ``icc: false``), with
subnets 10.0.N.0/24, 10.1.N.0/24 and 10.2.N.0/24 on fleetN.

Every "cannot reach" has its positive control next to it: the same path with what the
overlay allows, or the counter of the rule that dropped the packets.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile

import pytest
import yaml

from firewall_lab import ECHO_HTTP
from nslab_sandbox import World
from nslab_sandbox.fleet import LAB_PLAYBOOK, Fleet
from nslab_sandbox.iptables_flavour import FLAVOURS

pytestmark = pytest.mark.system

VNI = 42
DEVICE = 'nslab.%d' % VNI
OTHER_ADDRESS = '198.51.100.3'


def number(host):
    return int(host.rsplit('fleet', 1)[1])


def web(host):
    return '10.0.%d.2' % number(host)


def client(host):
    return '10.0.%d.3' % number(host)


def dbc(host):
    return '10.1.%d.2' % number(host)


def isoc(host):
    return '10.2.%d.2' % number(host)


def host_variables(host):
    n = number(host)
    return dict(
        lab_networks=[dict(name='br0', subnet='10.0.%d.0/24' % n), dict(name='db', subnet='10.1.%d.0/24' % n),
                      dict(name='iso', subnet='10.2.%d.0/24' % n, icc=False)],
        lab_namespaces=[
            dict(name='web', publish=['8000:8000'], command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
            dict(name='client'), dict(name='dbc', networks=['db']), dict(name='isoc', networks=['iso'])])


class OverlayFleet:
    """A fleet with the overlay's inventory: the fleet's connection settings, ``lab_overlay``
    for all, and each host's networks; ``members`` are the hosts the inventory lists."""

    def __init__(self, fleet, directory):
        self.fleet = fleet
        self.directory = directory
        self.members = [host.name for host in fleet.hosts]
        self.variables = host_variables

    def inventory(self):
        path = self.fleet.inventory(os.path.join(self.directory, 'fleet.yml'))
        with open(path, encoding='utf-8') as handle:
            inventory = yaml.safe_load(handle)
        hosts = inventory['all']['children']['fleet']['hosts']
        for name in list(hosts):
            if name in self.members:
                hosts[name].update(self.variables(name))
            else:
                del hosts[name]
        inventory['all']['vars'].update(lab_overlay=dict(vni=VNI), lab_install_packages=False, lab_diagram=False,
                                        lab_show_summary=False)
        out = os.path.join(self.directory, 'overlay.yml')
        with open(out, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(inventory, handle)
        return out

    def play(self, *args):
        proc = self.fleet.playbook([LAB_PLAYBOOK] + list(args), check=False, timeout=600, inventory=self.inventory())
        return Recap(proc)

    def run(self, host, script, check=False):
        return self.fleet.sh(host, script, check=check, timeout=60)

    def http(self, host, netns, address, port=8000):
        proc = self.run(host, 'ip netns exec %s curl -sS --fail -m 3 http://%s:%d/' % (netns, address, port))
        return proc.stdout.strip() if proc.returncode == 0 else None

    def ping(self, host, netns, address, size=None, df=False):
        extra = (' -M do' if df else '') + (' -s %d' % size if size else '')
        return self.run(host, 'ip netns exec %s ping -c 1 -W 2%s %s' % (netns, extra, address)).returncode == 0


class Recap:
    """A run's outcome per host, from its PLAY RECAP."""

    def __init__(self, proc):
        self.rc, self.output = proc.returncode, proc.stdout + proc.stderr
        self.hosts = {name: {key: int(value) for key, value in re.findall(r'(\w+)=(\d+)', counts)}
                      for name, counts in re.findall(r'^(\S+)\s+: (ok=.*)$', self.output, re.M)}

    def ok(self, changed=None):
        assert self.rc == 0 and self.hosts, self.output[-4000:]
        for name, counts in self.hosts.items():
            assert counts['failed'] == 0 and counts['unreachable'] == 0, self.output[-4000:]
            if changed is not None:
                assert (counts['changed'] > 0) == changed, 'host %s: %s\n%s' % (name, counts, self.output[-4000:])
        return self


@pytest.fixture
def overlay_fleet(request):
    flavour = getattr(request, 'param', None)
    with tempfile.TemporaryDirectory(prefix='nslab-overlay-') as directory:
        with World(iptables=flavour) as world, Fleet(world, count=3) as fleet:
            yield OverlayFleet(fleet, directory)


def wait_for_services(lab, hosts):
    """Until each host's web answers its own client (bounded): the echo server looks its name
    up before it listens, and the sandbox's DNS server never answers (about 5 s)."""
    for host in hosts:
        proc = lab.run(host, 'for i in $(seq 100); do ip netns exec client curl -sS --fail -m 1 -o /dev/null '
                             'http://%s:8000/ 2>/dev/null && exit 0; sleep 0.2; done; exit 1' % web(host))
        assert proc.returncode == 0, 'the service of %s does not answer on its own host' % host


def assert_fleet_joined(lab, hosts):
    """Every namespace pair across hosts: HTTP with the client's own lab address, and ping."""
    wait_for_services(lab, hosts)
    for a, b in itertools.permutations(hosts, 2):
        assert lab.http(a, 'client', web(b)) == client(a), '%s client -> %s web' % (a, b)
        assert lab.ping(a, 'web', client(b)), '%s web -> %s client' % (a, b)


def solo(host):
    """fleet2's own namespace on br0, whose address its run allocates after web and client."""
    return '10.0.%d.4' % number(host)


def with_solo(host):
    """The fleet's variables, with one namespace that only fleet2 has: the others' namespaces
    have the names of every host's, which this host's own take."""
    variables = host_variables(host)
    if host == 'fleet2':
        variables['lab_namespaces'].append(dict(name='solo'))
    return variables


def lookup(lab, host, netns, name, files_only=False):
    """The addresses ``name`` resolves to in ``netns`` of ``host``, sorted: as programs look
    names up (getaddrinfo, ``getent ahosts``: the hosts file, then DNS only for a name not in
    it), or with ``files_only`` in the hosts file alone, so that a name not there fails at once
    (the sandbox's DNS never answers: 5 s). Not ``getent hosts``, which asks for IPv6 first, and
    so DNS for every name, even one the hosts file has."""
    command = 'getent -s files hosts' if files_only else 'getent ahosts'
    proc = lab.run(host, 'ip netns exec %s %s %s' % (netns, command, name))
    return sorted({line.split()[0] for line in proc.stdout.splitlines()}) if proc.returncode == 0 else []


def assert_names_across(lab, hosts):
    """Every namespace names the other hosts' namespaces of its networks, and no other:
    ``NAME.HOST`` (and ``.lab``) always, a bare ``NAME`` only where no namespace of its own
    host (or of a host before) has it; by name, a client reaches another host's web."""
    for a, b in itertools.permutations(hosts, 2):
        for name in ('web.%s' % b, 'web.%s.lab' % b):
            assert lookup(lab, a, 'client', name) == [web(b)], (a, name)
        assert lookup(lab, a, 'dbc', 'dbc.%s' % b) == [dbc(b)], a  # the positive control of db and iso
        assert lookup(lab, a, 'isoc', 'isoc.%s.lab' % b) == [isoc(b)], a
        for netns, name in (('client', 'dbc.%s' % b), ('client', 'isoc.%s' % b), ('dbc', 'web.%s' % b),
                            ('isoc', 'client.%s' % b), ('dbc', 'isoc.%s' % b)):
            assert lookup(lab, a, netns, name, files_only=True) == [], (a, netns, name)
    for a in hosts:
        assert lookup(lab, a, 'client', 'web') == [web(a)], a  # its own host's first
        if a != 'fleet2' and 'fleet2' in hosts:
            # fleet2's solo, allocated by fleet2's run: by its bare name too, on br0 only.
            assert lookup(lab, a, 'client', 'solo') == lookup(lab, a, 'web', 'solo.lab') == [solo('fleet2')], a
            assert lookup(lab, a, 'dbc', 'solo', files_only=True) == [], a
        b = next(other for other in hosts if other != a)
        assert lab.run(a, 'ip netns exec client curl -sS --fail -m 3 http://web.%s:8000/' % b).stdout.strip() == client(a)


def named_hosts(lab, host, netns='client'):
    """The other hosts a namespace's hosts file has a block for."""
    text = lab.run(host, 'cat /etc/netns/%s/hosts' % netns, check=True).stdout
    return re.findall(r'^# the namespaces of host (\S+)$', text, re.M)


def fdb_destinations(lab, host):
    out = lab.run(host, 'bridge fdb show dev %s' % DEVICE).stdout
    return sorted(re.findall(r' dst (\S+)', out))


def empty(lab, host):
    """Nothing of the lab on ``host``: no namespace, device, record or rule of ours."""
    out = lab.run(host, 'ip netns list; ip -o link show dev %s 2>/dev/null; ls /run/nslab/labs 2>/dev/null; '
                        'iptables-save | grep -c NSLAB || true' % DEVICE).stdout
    return out.strip() == '0'


def overlay_drops(lab, host):
    """Packets the overlay's INPUT rule (VXLAN from a non-peer) dropped on ``host``."""
    out = lab.run(host, 'iptables -w -t filter -L NSLAB-INPUT -v -x -n', check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if 'nslab:overlay:' in line)


@pytest.mark.parametrize('overlay_fleet', FLAVOURS, indirect=True)
def test_the_fleet_is_one_network_securely(overlay_fleet):
    lab = overlay_fleet
    lab.variables = with_solo
    hosts = list(lab.members)

    # Check mode on an empty fleet changes nothing.
    lab.play('--check').ok()
    assert all(empty(lab, host) for host in hosts)

    lab.play().ok(changed=True)
    assert_fleet_joined(lab, hosts)
    # Names across hosts, in the same run: the addresses fleet2's run allocated included.
    assert_names_across(lab, hosts)
    assert lab.ping('fleet1', 'client', 'solo') and lab.ping('fleet3', 'web', 'client.fleet1.lab')

    # A 1 MiB transfer between hosts, at the lab MTU: fleet2's web serves a file to fleet1's client.
    lab.run('fleet2', 'mkdir -p /run/big && head -c 1048576 /dev/urandom >/run/big/file', check=True)
    server = lab.fleet.popen('fleet2', ['ip', 'netns', 'exec', 'web', 'python3', '-m', 'http.server', '8001',
                                        '--bind', web('fleet2'), '--directory', '/run/big'])
    try:
        fetched = lab.run('fleet1', 'for i in $(seq 50); do ip netns exec client curl -sS --fail -m 10 '
                                    'http://%s:8001/file -o /run/file && break; sleep 0.1; done; '
                                    'sha256sum </run/file' % web('fleet2'))
        assert fetched.stdout.split()[0] == lab.run('fleet2', 'sha256sum </run/big/file').stdout.split()[0]
    finally:
        server.kill()
        server.wait(timeout=10)

    # The largest DF ping the lab MTU (1450) allows goes through; one byte more does not.
    assert lab.ping('fleet1', 'client', web('fleet3'), size=1450 - 28, df=True)
    assert not lab.ping('fleet1', 'client', web('fleet3'), size=1450 - 28 + 1, df=True)

    # Networks join by name: db reaches db across hosts, never br0; iso (icc: false) nothing.
    assert lab.ping('fleet1', 'dbc', dbc('fleet2'))
    assert not lab.ping('fleet1', 'dbc', web('fleet2'))
    assert lab.ping('fleet1', 'isoc', '203.0.113.10')  # iso's namespace is up and routed
    assert not lab.ping('fleet1', 'isoc', isoc('fleet2'))

    # A neighbour on the underlay that routes fleet2's lab subnet via fleet2 reaches the
    # published port, and not the container port behind it.
    world = lab.fleet.world
    world.run(['ip', 'route', 'add', '10.0.2.0/24', 'via', '198.51.100.12'], node='other')
    assert world.run(['curl', '-sS', '--fail', '-m', '3', 'http://198.51.100.12:8000/'], node='other',
                     check=False).stdout.strip() == OTHER_ADDRESS
    assert world.run(['curl', '-sS', '--fail', '-m', '3', 'http://%s:8000/' % web('fleet2')], node='other',
                     check=False).returncode != 0
    # VXLAN with the overlay's VNI from a host that is not a peer, with an inner source of a
    # peer's subnet (which the forwarding rules would accept), is dropped on arrival.
    before = overlay_drops(lab, 'fleet2')
    forged = '\n'.join([
        'ip link add vxf type vxlan id %d local %s dev eth0 dstport 4789 nolearning' % (VNI, OTHER_ADDRESS),
        'ip link set vxf up', 'ip addr add 10.0.1.99/32 dev vxf',
        'bridge fdb append 02:4e:c6:33:64:0c dev vxf dst 198.51.100.12 self permanent',
        'ip neigh replace 10.0.2.0 lladdr 02:4e:c6:33:64:0c dev vxf nud permanent',
        'ip route replace %s/32 via 10.0.2.0 dev vxf onlink src 10.0.1.99' % web('fleet2')])
    world.sh(forged, node='other')
    assert world.run(['ping', '-c', '2', '-W', '1', web('fleet2')], node='other', check=False).returncode != 0
    assert overlay_drops(lab, 'fleet2') >= before + 2

    # Idempotent on every host.
    lab.play().ok(changed=False)

    # A fourth host joins: every host reaches it, and no existing address moved.
    addresses = {host: lab.run(host, 'ip -n client -4 -o addr show dev eth0').stdout for host in hosts}
    lab.members.append(lab.fleet.add_host().name)
    hosts = list(lab.members)
    lab.play().ok()
    assert_fleet_joined(lab, hosts)
    assert all(lab.run(host, 'ip -n client -4 -o addr show dev eth0').stdout == text for host, text in addresses.items())
    # Every host names fleet4's namespaces, and fleet4 theirs, after that one run.
    assert_names_across(lab, hosts)
    assert lab.ping('fleet4', 'client', 'solo.fleet2.lab')
    assert all(named_hosts(lab, host) == [other for other in hosts if other != host] for host in hosts)

    # fleet3 leaves the inventory: its entries go everywhere, and its names with them.
    lab.members.remove('fleet3')
    lab.play().ok()
    for host in lab.members:
        assert '198.51.100.13' not in fdb_destinations(lab, host)
        assert '10.0.3.0/24' not in lab.run(host, 'ip route show dev %s' % DEVICE).stdout
        assert named_hosts(lab, host) == [other for other in lab.members if other != host]
        assert lookup(lab, host, 'client', 'web.fleet3', files_only=True) == []
    assert_fleet_joined(lab, lab.members)
    assert_names_across(lab, lab.members)

    # Teardown of fleet2 alone: its part goes, the others keep working.
    lab.play('--limit', 'fleet2', '-e', 'lab_state=absent').ok(changed=True)
    assert empty(lab, 'fleet2')
    assert_fleet_joined(lab, ['fleet1', 'fleet4'])


def test_a_hand_broken_overlay_is_repaired_and_a_limited_run_keeps_the_others(overlay_fleet):
    lab = overlay_fleet
    lab.play().ok(changed=True)
    lab.run('fleet1', 'ip route del 10.0.2.0/24 dev %s; bridge fdb del 02:4e:c6:33:64:0d dev %s dst 198.51.100.13 self'
            % (DEVICE, DEVICE), check=True)
    lab.run('fleet3', 'ip link del %s' % DEVICE, check=True)
    assert lab.http('fleet1', 'client', web('fleet2')) is None  # the control: broken for real
    # Run on fleet1 and fleet3 only: fleet2, left out, keeps its place in their overlay.
    lab.play('--limit', 'fleet1,fleet3').ok(changed=True)
    assert_fleet_joined(lab, lab.members)
    lab.play().ok(changed=False)
    # A peer's VXLAN with another VNI (on a device of its own, same port) reaches no lab: the
    # kernel has no device for it. The control: the same pair over the overlay's VNI, above.
    lab.run('fleet1', '\n'.join([
        'ip link add vx43 type vxlan id 43 local 198.51.100.11 dev eth0 dstport 4789 nolearning', 'ip link set vx43 up',
        'bridge fdb append 02:4e:c6:33:64:0c dev vx43 dst 198.51.100.12 self permanent',
        'ip neigh replace 10.0.2.0 lladdr 02:4e:c6:33:64:0c dev vx43 nud permanent',
        'ip route replace %s/32 via 10.0.2.0 dev vx43 onlink src 10.0.1.1' % web('fleet2')]), check=True)
    assert not lab.ping('fleet1', 'client', web('fleet2'))
    lab.run('fleet1', 'ip link del vx43', check=True)
    assert lab.ping('fleet1', 'client', web('fleet2'))


def test_overlapping_subnets_fail_every_host_before_any_change(overlay_fleet):
    lab = overlay_fleet

    def overlapping(host):
        variables = host_variables(host)
        if host == 'fleet3':
            variables['lab_networks'][0]['subnet'] = '10.0.1.0/25'
        return variables

    lab.variables = overlapping
    recap = lab.play()
    assert recap.rc != 0
    assert all(counts['failed'] == 1 and counts['changed'] == 0 for counts in recap.hosts.values()), recap.output[-3000:]
    assert 'the lab subnets of fleet1 (10.0.1.0/24, network br0) and fleet3 (10.0.1.0/25, network br0) overlap' in \
        recap.output
    assert all(empty(lab, host) for host in lab.members)


def test_a_host_list_inventory_builds_the_overlay(overlay_fleet):
    """``-i 198.51.100.11,198.51.100.12,198.51.100.13,``: no host_vars; each host's subnet is
    templated from its own name in an extra variable, which the controller evaluates per host."""
    lab = overlay_fleet
    connection = yaml.safe_load(open(lab.fleet.inventory(os.path.join(lab.directory, 'fleet.yml')),
                                     encoding='utf-8'))['all']['vars']
    extra = dict(connection, lab_overlay=dict(vni=VNI), lab_install_packages=False, lab_diagram=False,
                 lab_subnet="10.0.{{ inventory_hostname.split('.')[-1] | int - 10 }}.0/24",
                 lab_namespaces=[dict(name='web', command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
                                 dict(name='client')])
    path = os.path.join(lab.directory, 'extra.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(extra, handle)
    addresses = ','.join(host.address for host in lab.fleet.hosts) + ','
    proc = lab.fleet.playbook([LAB_PLAYBOOK, '-e', '@' + path], check=False, inventory=addresses)
    Recap(proc).ok(changed=True)
    wait_for_services(lab, lab.members)
    for a, b in itertools.permutations(lab.members, 2):
        # With one network, lab_subnet's: web .2 and client .3 as in the other tests.
        assert lab.http(a, 'client', web(b)) == client(a)


def test_each_host_s_underlay_address_is_its_declared_one_its_uplink_s_or_its_default_route_s(overlay_fleet):
    """fleet1 declares ``lab_overlay_address``, an address its eth0 holds besides its own;
    fleet2 names its uplink, whose first address is not its default route's source; fleet3 has
    neither, and first names an uplink it does not have. Each peer's VXLAN entries go to the
    address its own device was made with (the VTEP MAC is a function of it): an address taken
    the wrong way would leave a host unreachable over the overlay."""
    lab = overlay_fleet
    lab.run('fleet1', 'ip addr add 198.51.100.41/24 dev eth0', check=True)
    lab.run('fleet2', 'ip addr add 198.51.100.42/24 dev eth0 && '
                      'ip route change default via 198.51.100.1 dev eth0 src 198.51.100.42', check=True)
    assert '198.51.100.42' in lab.run('fleet2', 'ip -4 route get 8.8.8.8', check=True).stdout  # the control
    uplinks = {'fleet2': 'eth0', 'fleet3': 'eth9'}

    def underlays(host):
        variables = dict(lab_subnet='10.0.%d.0/24' % number(host), lab_namespaces=[
            dict(name='web', command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP), dict(name='client')])
        if host == 'fleet1':
            variables['lab_overlay_address'] = '198.51.100.41'
        if host in uplinks:
            variables['lab_uplink'] = uplinks[host]
        return variables

    lab.variables = underlays
    # fleet3's address cannot be found: it fails, with the module's own message, and the others
    # build without it, saying why.
    recap = lab.play()
    text = ' '.join(recap.output.split())  # warnings are wrapped to the terminal's width
    assert recap.hosts['fleet3']['failed'] == 1 and 'overlay: the uplink eth9 does not exist' in text
    assert [recap.hosts[host]['failed'] for host in ('fleet1', 'fleet2')] == [0, 0], recap.output[-4000:]
    assert 'overlay: the underlay address of fleet3 is unknown' in text, recap.output[-4000:]  # said once
    assert fdb_destinations(lab, 'fleet1') == ['198.51.100.12'] and fdb_destinations(lab, 'fleet2') == ['198.51.100.41']

    del uplinks['fleet3']
    lab.play().ok(changed=True)
    expected = {'fleet1': '198.51.100.41', 'fleet2': '198.51.100.12', 'fleet3': '198.51.100.13'}
    for host in lab.members:
        assert 'local %s ' % expected[host] in lab.run(host, 'ip -d link show dev %s' % DEVICE, check=True).stdout
        assert fdb_destinations(lab, host) == sorted(address for other, address in expected.items() if other != host)
    assert_fleet_joined(lab, lab.members)
    lab.play('--check').ok(changed=False)
