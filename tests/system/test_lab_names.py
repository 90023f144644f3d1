# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: every namespace of the lab gets ``/etc/netns/NS/hosts`` and ``/etc/netns/NS/resolv.conf``,
which ``ip netns exec`` and the lab's services see.

The hosts are sandbox worlds made resolver hosts by :class:`nslab_sandbox.ResolverHost`:
Ubuntu's systemd-resolved (``/etc/resolv.conf`` a link to a file naming the 127.0.0.53 stub,
the upstream server 203.0.113.10 in ``/run/systemd/resolve/resolv.conf``), a host that names
the upstream server directly, and a dnsmasq-like host (127.0.0.1, no systemd-resolved). "The
internet's" server on 203.0.113.10 knows ``example.test`` and ``www.example.test``; it logs
every query, so a test tells which server a namespace asked. Each name that must not resolve
comes after one that does, from the same place. The worlds' /etc is an overlay of their own;
the autouse guard of conftest.py fails a test that changed this machine's /etc/netns or
/etc/resolv.conf.
"""

from __future__ import annotations

import json
import os

import pytest

from fake_systemd import DiskHost
from file_views import file_view, tree_view
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, ResolverHost
from nslab_sandbox.resolver_host import start_dns_server, stop_server
from test_lab_lifecycle import assert_refused, built, converged, shown, unchanged
from test_lab_restore import play as disk_play
from test_lab_restore import restored
from test_lab_role import play

pytestmark = pytest.mark.system

NETNS_ETC = '/etc/netns'
MARKER = '# nslab.net lab %s: '
FRONT, BACK = '10.10.0', '10.20.0'
NETWORKS = [dict(name='front', bridge='br-front', subnet=FRONT + '.0/24'),
            dict(name='back', bridge='br-back', subnet=BACK + '.0/24')]
#: ns1's service: a plain directory listing on port 8000, and something its process tree can be
#: found by (``ip netns pids ns1`` gives its PID).
SERVICE = 'exec python3 -m http.server 8000'
BASE = dict(lab_service_manager='process', lab_diagram=False, lab_networks=NETWORKS)


def ns(name, *networks, **more):
    return dict(dict(name=name, networks=list(networks)), **more)


def lab(*namespaces, **variables):
    return dict(dict(BASE, **variables), lab_namespaces=list(namespaces))


# ns1 front (the service); ns2 front and back; ns3, ns5 back; ns4 front. Addresses as allocated
# in this order (the gateway is .1): front ns1 .2, ns2 .3, ns4 .4; back ns2 .2, ns3 .3, ns5 .4.
START = lab(ns('ns1', 'front', command=SERVICE), ns('ns2', 'front', 'back'), ns('ns3', 'back'),
            ns('ns4', 'front'), ns('ns5', 'back'))
# One run: ns3 renamed ns6, ns4 dropped, ns5 moved from back to front.
EDITED = lab(ns('ns1', 'front', command=SERVICE), ns('ns2', 'front', 'back'), ns('ns6', 'back'),
             ns('ns5', 'front'))


# -- looking from a namespace, a service, the host ----------------------------------------------

def getent(world, name, node='host', prefix=()):
    """The first address ``getent ahostsv4 NAME`` gives in ``node`` (after ``prefix``, e.g.
    nsenter), or None when it fails; bounded. IPv4 only: a name of a hosts file is found there
    without a DNS query for its IPv6 address first (what ``getent hosts`` would make)."""
    proc = world.run(list(prefix) + ['timeout', '5', 'getent', 'ahostsv4', name], node=node, check=False, timeout=30)
    return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout.strip() else None


def service_pid(world, netns):
    """The PID (in the world) of the lab's one service in ``netns``."""
    pids = world.run(['ip', 'netns', 'pids', netns]).stdout.split()
    assert len(pids) == 1, (netns, pids)
    return pids[0]


def service_sees(world, pid, name):
    """What the running service ``pid`` gets for ``name``: its mount namespace (the names bound
    over /etc) and its network namespace."""
    return getent(world, name, prefix=['nsenter', '-t', pid, '-m', '-n'])


def without_names(world, netns, name):
    """``getent hosts NAME`` in ``netns``'s network only, with the host's /etc (no names files)."""
    return getent(world, name, prefix=['nsenter', '--net=/run/netns/%s' % netns])


def fetch(world, netns, url):
    proc = world.run(['curl', '-sf', '--noproxy', '*', '--max-time', '5', url], node='netns:' + netns,
                     check=False, timeout=30)
    return proc.stdout if proc.returncode == 0 else ''  # "in" tests the text


def in_world(world, path):
    """``path`` as this process reaches it in the world's mount namespace."""
    return '/proc/%d/root%s' % (world.init_pid, path)


def read_in_world(world, path):
    try:
        with open(in_world(world, path), encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def etc_view(world):
    """The world's /etc/netns (every entry under it) and its resolv.conf files: what a teardown
    must leave byte-identical."""
    return dict(netns=tree_view(in_world(world, NETNS_ETC)), resolv_conf=file_view(in_world(world, '/etc/resolv.conf')),
                stub=file_view(in_world(world, '/run/systemd/resolve/stub-resolv.conf')),
                upstream=file_view(in_world(world, '/run/systemd/resolve/resolv.conf')))


def names_files(world):
    """{netns: sorted names of its files} under /etc/netns ({} when there is none)."""
    top = in_world(world, NETNS_ETC)
    if not os.path.isdir(top):
        return {}
    return {name: sorted(os.listdir(os.path.join(top, name))) for name in sorted(os.listdir(top))}


def lines(world, netns, name):
    text = read_in_world(world, '%s/%s/%s' % (NETNS_ETC, netns, name))
    assert text is not None, '%s/%s/%s is missing' % (NETNS_ETC, netns, name)
    return text.splitlines()


def resolver_lines(world, netns):
    """The resolv.conf of ``netns`` without its comment lines (the marker, which every test
    checks once, and the directories the lab made)."""
    return [line for line in lines(world, netns, 'resolv.conf') if not line.startswith('#')]


def asked_upstream(resolver, name):
    """Whether the internet's server was asked for ``name`` (an A query) from the host's
    address, i.e. by a namespace behind the lab's NAT."""
    return any(line.split()[:3] == [HOST_ADDRESS, name, 'A'] for line in resolver.queries())


# -- the tests ----------------------------------------------------------------------------------

def test_names_on_a_systemd_resolved_host(world):
    """Ubuntu's resolver: the namespaces get the upstream server behind the 127.0.0.53 stub and
    resolve the internet's names and each other's; isolated networks do not name each other;
    edits converge in one run and running services see them; a teardown leaves /etc as it was."""
    resolver = ResolverHost(world).start()
    before = etc_view(world)
    assert before['netns'] is None and before['resolv_conf'][0] == 'link'

    # A check run on the empty host predicts changes and writes nothing.
    assert built(play(world, START, check=True)).changed > 0
    assert etc_view(world) == before
    assert world.run(['ip', 'netns', 'list']).stdout == ''

    converged(play(world, START))
    assert names_files(world) == dict.fromkeys(['ns1', 'ns2', 'ns3', 'ns4', 'ns5'], ['hosts', 'resolv.conf'])
    for netns in ('ns1', 'ns3'):
        for name in ('hosts', 'resolv.conf'):
            assert lines(world, netns, name)[0].startswith(MARKER % 'lab'), (netns, name)
    # systemd-resolved's upstream server and search domain; none of the stub's options.
    assert resolver_lines(world, 'ns1') == ['nameserver %s' % INTERNET_ADDRESS, 'search example']

    # The internet's names: through `ip netns exec` and in the service, asked of the upstream
    # server itself (behind the lab's NAT), not of the stub, which a namespace cannot reach.
    stub_queries = len(resolver.queries('stub'))
    assert getent(world, 'example.test', 'netns:ns1') == INTERNET_ADDRESS
    assert asked_upstream(resolver, 'example.test')
    pid = service_pid(world, 'ns1')
    assert service_sees(world, pid, 'www.example.test') == INTERNET_ADDRESS
    assert len(resolver.queries('stub')) == stub_queries
    # Control: the same namespace with the host's /etc: 127.0.0.53 is its own loopback.
    assert getent(world, 'example.test') == INTERNET_ADDRESS
    assert without_names(world, 'ns1', 'example.test') is None
    assert without_names(world, 'ns1', 'ns2') is None

    # The namespaces of its networks, by name and name.lab, at their address on the shared one.
    assert getent(world, 'ns2', 'netns:ns1') == FRONT + '.3'
    assert getent(world, 'ns2.lab', 'netns:ns1') == FRONT + '.3'
    assert getent(world, 'ns1', 'netns:ns1') == FRONT + '.2'
    assert getent(world, 'localhost', 'netns:ns1') == '127.0.0.1'
    assert getent(world, 'ns2', 'netns:ns3') == BACK + '.2'
    assert service_sees(world, pid, 'ns2') == FRONT + '.3'
    assert service_sees(world, pid, 'ns4.lab') == FRONT + '.4'
    # By name to a neighbour's service.
    assert 'Directory listing' in fetch(world, 'ns2', 'http://ns1:8000/')
    assert 'Directory listing' in fetch(world, 'ns4', 'http://ns1.lab:8000/')
    # Isolated networks: ns1 (front) and ns3 (back) have no name for each other; ns2, on
    # both, names both (the controls).
    assert getent(world, 'ns3', 'netns:ns2') == BACK + '.3'
    assert getent(world, 'ns3', 'netns:ns1') is None
    assert getent(world, 'ns3.lab', 'netns:ns1') is None
    assert getent(world, 'ns1', 'netns:ns2') == FRONT + '.2'
    assert getent(world, 'ns1', 'netns:ns3') is None
    assert service_sees(world, pid, 'ns5') is None

    unchanged(play(world, START))
    assert built(play(world, START, check=True)).changed == 0

    # -- edits: ns3 renamed ns6, ns4 dropped, ns5 moved from back to front, in one run --------
    hosts_inode = os.stat(in_world(world, NETNS_ETC + '/ns1/hosts')).st_ino
    built_view = etc_view(world)
    assert built(play(world, EDITED, check=True)).changed > 0
    assert etc_view(world) == built_view
    converged(play(world, EDITED))
    unchanged(play(world, EDITED))
    assert names_files(world) == dict.fromkeys(['ns1', 'ns2', 'ns5', 'ns6'], ['hosts', 'resolv.conf'])
    # The service runs on, the same process, and sees the edit without a restart: the file
    # was rewritten in place (what it has bound over its /etc/hosts).
    assert service_pid(world, 'ns1') == pid
    assert os.stat(in_world(world, NETNS_ETC + '/ns1/hosts')).st_ino == hosts_inode
    assert service_sees(world, pid, 'ns2') == FRONT + '.3'  # the control
    assert service_sees(world, pid, 'ns4') is None
    ns5 = service_sees(world, pid, 'ns5')
    assert ns5 is not None and ns5.startswith(FRONT + '.')
    assert getent(world, 'ns5', 'netns:ns2') == ns5
    assert 'Directory listing' in fetch(world, 'ns5', 'http://ns1:8000/')
    ns6 = getent(world, 'ns6', 'netns:ns6')
    assert ns6 is not None and ns6.startswith(BACK + '.')
    assert getent(world, 'ns6', 'netns:ns2') == ns6
    assert getent(world, 'ns3', 'netns:ns2') is None
    assert getent(world, 'ns6', 'netns:ns1') is None
    assert not any('ns4' in line or 'ns3' in line
                   for netns in ('ns1', 'ns2', 'ns5', 'ns6') for line in lines(world, netns, 'hosts'))

    # -- teardown: /etc/netns and the resolver's files as they were ---------------------------
    down = play(world, EDITED, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.changed > 0, shown(down)
    assert etc_view(world) == before
    unchanged(play(world, EDITED, '-e', 'lab_state=absent'))
    resolver.stop()


NAMED = lab(ns('ns1', 'front'), ns('ns2', 'front'), lab_name='shop')


def test_names_on_plain_and_dnsmasq_hosts_and_declared_servers(world):
    """A host that names its upstream server directly passes it on; a dnsmasq-like host
    (127.0.0.1, no systemd-resolved) leaves nothing to pass on: Docker's fallback, with a
    warning. lab_dns, lab_dns_search, lab_extra_hosts and a namespace's own settings show in
    the files and resolve. Someone else's file is refused before any change."""
    resolver = ResolverHost(world, 'plain', options=['timeout:1', 'attempts:1']).start()
    before = etc_view(world)

    # A foreign /etc/netns/ns1/hosts: the run fails naming it, and changes nothing.
    world.sh("mkdir -p /etc/netns/ns1 && printf '10.9.9.9 mine\\n' >/etc/netns/ns1/hosts")
    foreign = etc_view(world)
    refused = play(world, NAMED)
    assert_refused(refused, '/etc/netns/ns1/hosts')
    assert etc_view(world) == foreign
    assert world.run(['ip', 'netns', 'list']).stdout == ''
    # Another tool's namespace beside the lab's: the lab leaves its file (and so /etc/netns) be.
    world.sh("rm -r /etc/netns/ns1 && mkdir /etc/netns/other && printf '10.9.9.9 mine\n' >/etc/netns/other/hosts")
    others = etc_view(world)['netns']

    # The plain host: its nameserver, search domain and options, as they are.
    converged(play(world, NAMED))
    assert resolver_lines(world, 'ns1') == ['nameserver %s' % INTERNET_ADDRESS, 'search example',
                                            'options timeout:1 attempts:1']
    assert getent(world, 'www.example.test', 'netns:ns1') == INTERNET_ADDRESS
    assert getent(world, 'ns2', 'netns:ns1') == FRONT + '.3'
    # NAME.LAB_NAME, and the marker, with this lab's name.
    assert getent(world, 'ns2.shop', 'netns:ns1') == FRONT + '.3'
    assert getent(world, 'ns2.lab', 'netns:ns1') is None
    assert lines(world, 'ns2', 'hosts')[0].startswith(MARKER % 'shop')
    unchanged(play(world, NAMED))

    # The dnsmasq-like host: only a loopback nameserver and no systemd-resolved file, so the
    # namespaces get Docker's fallback, 8.8.8.8 and 8.8.4.4, with a warning. Nothing answers
    # those in the sandbox: the internet's names do not resolve there, the lab's still do.
    resolver.switch('dnsmasq')
    dnsmasq = etc_view(world)
    fallback = converged(play(world, NAMED))
    assert 'the host has no nameserver a namespace can reach' in fallback.output, shown(fallback)
    assert '8.8.8.8 and 8.8.4.4' in fallback.output, shown(fallback)
    assert resolver_lines(world, 'ns1') == ['nameserver 8.8.8.8', 'nameserver 8.8.4.4', 'options timeout:1 attempts:1']
    assert getent(world, 'example.test') == INTERNET_ADDRESS  # the host's stub answers the host
    assert getent(world, 'ns2', 'netns:ns1') == FRONT + '.3'
    assert getent(world, 'example.test', 'netns:ns1') is None

    # Declared: the lab's nameserver and search domain, an extra host; ns2 its own nameserver
    # (a server on the other machine that knows one name), search domain and extra host.
    other = start_dns_server(world, 'other', OTHER_ADDRESS, records={'only-other.test': OTHER_ADDRESS})
    try:
        declared = lab(ns('ns1', 'front'),
                       ns('ns2', 'front', dns=[OTHER_ADDRESS], dns_search=['example.test'],
                          extra_hosts=['db.lan:10.20.0.99']),
                       lab_dns=[INTERNET_ADDRESS], lab_dns_search=['test'],
                       lab_extra_hosts=['printer.lan:%s' % OTHER_ADDRESS], lab_name='shop')
        first = converged(play(world, declared))
        assert 'the host has no nameserver' not in first.output, shown(first)
        assert resolver_lines(world, 'ns1') == ['nameserver %s' % INTERNET_ADDRESS, 'search test',
                                                'options timeout:1 attempts:1']
        assert resolver_lines(world, 'ns2')[:2] == ['nameserver %s' % OTHER_ADDRESS, 'search example.test']
        # ns1: the lab's server, and "example" completed by the lab's search domain "test".
        assert getent(world, 'example', 'netns:ns1') == INTERNET_ADDRESS
        assert getent(world, 'www', 'netns:ns1') is None
        assert getent(world, 'only-other.test', 'netns:ns1') is None
        # ns2: its own server and search domain.
        assert getent(world, 'only-other.test', 'netns:ns2') == OTHER_ADDRESS
        assert getent(world, 'example.test', 'netns:ns2') is None
        # Extra hosts: the lab's in every namespace, a namespace's own in its file only.
        assert getent(world, 'printer.lan', 'netns:ns1') == OTHER_ADDRESS
        assert getent(world, 'printer.lan', 'netns:ns2') == OTHER_ADDRESS
        assert getent(world, 'db.lan', 'netns:ns2') == '10.20.0.99'
        assert getent(world, 'db.lan', 'netns:ns1') is None
        assert getent(world, 'ns1', 'netns:ns2') == FRONT + '.2'
        unchanged(play(world, declared))

        # lab_names false: the lab's files go, the namespaces stay and see the host's /etc.
        converged(play(world, dict(declared, lab_names=False)))
        assert names_files(world) == {'other': ['hosts']}
        assert sorted(line.split()[0] for line in world.run(['ip', 'netns', 'list']).stdout.splitlines()) == ['ns1', 'ns2']
        assert getent(world, 'ns2', 'netns:ns1') is None
        assert getent(world, 'localhost', 'netns:ns1') == '127.0.0.1'  # the control

        down = play(world, declared, '-e', 'lab_state=absent')
        assert down.rc == 0 and down.changed > 0, shown(down)
    finally:
        stop_server(other)
    assert etc_view(world) == dict(dnsmasq, netns=others)
    resolver.stop()


def test_names_come_back_at_boot(tmp_path):
    """After a reboot the restore unit rebuilds the lab with its names: the files (on the
    host's disk, which keeps /etc) are rewritten where missing, and the restored service sees
    them."""
    with DiskHost(tmp_path / 'disk') as host:
        ResolverHost(host.world).start()
        variables = dict(lab_networks=NETWORKS, lab_namespaces=[ns('ns1', 'front', command=SERVICE),
                                                                ns('ns2', 'front')])
        built(disk_play(host, variables))
        assert names_files(host.world) == dict.fromkeys(['ns1', 'ns2'], ['hosts', 'resolv.conf'])
        files = {path: read_in_world(host.world, path) for path in
                 ('/etc/netns/ns1/hosts', '/etc/netns/ns1/resolv.conf', '/etc/netns/ns2/hosts')}

        world = host.reboot()
        # systemd-resolved comes up before the restore (After=network-online.target).
        resolver = ResolverHost(world).start()
        assert world.run(['ip', 'netns', 'list']).stdout == ''
        assert getent(world, 'example.test') == INTERNET_ADDRESS
        # The disk kept the files; one lost since comes back with the restore.
        assert read_in_world(world, '/etc/netns/ns1/hosts') == files['/etc/netns/ns1/hosts']
        world.run(['rm', '/etc/netns/ns2/hosts'])
        restored(host)
        assert {path: read_in_world(world, path) for path in files} == files
        assert getent(world, 'ns2', 'netns:ns1') == FRONT + '.3'
        assert getent(world, 'example.test', 'netns:ns2') == INTERNET_ADDRESS
        pid = service_pid(world, 'ns1')
        assert service_sees(world, pid, 'ns2.lab') == FRONT + '.3'
        assert service_sees(world, pid, 'example.test') == INTERNET_ADDRESS
        unchanged(disk_play(host, variables))
        resolver.stop()


def bridge_ports(world, bridge):
    """{port name: MAC} of ``bridge``'s ports, and the bridge's own MAC."""
    ports = json.loads(world.run(['ip', '-j', 'link', 'show', 'master', bridge]).stdout)
    own = json.loads(world.run(['ip', '-j', 'link', 'show', 'dev', bridge]).stdout)[0]['address']
    return {port['ifname']: port['address'] for port in ports}, own


def test_a_dropped_namespace_takes_no_gateway_with_it(world):
    """The gateway's MAC stays when a namespace goes, so its neighbours keep reaching the
    internet (and their nameservers). Linux gives a bridge that has no MAC of its own that of
    its lowest port: dropping the namespace behind that port changes the gateway's MAC, and the
    others keep sending to the old one until their neighbour entry ages out (half a minute
    and more). Docker sets a random MAC on the bridges it makes for this reason. The namespace
    dropped here is the one whose port gave the bridge its MAC, if one did."""
    names = ['ns1', 'ns2', 'ns3', 'ns4']
    converged(play(world, lab(*[ns(name, 'front') for name in names])))
    for name in names:
        # Each has the gateway's MAC in its neighbour cache, and the internet answers.
        assert fetch(world, name, 'http://%s/' % INTERNET_ADDRESS).strip() == HOST_ADDRESS, name
    ports, before = bridge_ports(world, 'br-front')
    owner = next((port.split('-')[0] for port, mac in ports.items() if mac == before), None)
    kept = [name for name in names if name != (owner or 'ns1')]
    converged(play(world, lab(*[ns(name, 'front') for name in kept])))
    after = bridge_ports(world, 'br-front')[1]
    answer = fetch(world, kept[0], 'http://%s/' % INTERNET_ADDRESS).strip()
    assert (after, answer) == (before, HOST_ADDRESS), (
        'br-front had the MAC of the port of %s, which was dropped; %s got %r from the internet'
        % (owner, kept[0], answer) if owner else 'br-front had a MAC of its own, and changed it')
