# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names across the overlay: each namespace names the namespaces of the other hosts of the
overlay on its networks (never on another network), with the addresses their own runs gave them.

A peer's namespaces reach the module as ``overlay.peers[].namespaces`` (the controller fills
them from the peer's result of the lab in the play); omitted, the host names those its record
has from an earlier run, as it does with a peer's underlay address. Plans are made the way
lab_network makes them: the arguments through the module's argument spec, lab_spec, lab_plan
on a host as netns_info describes it, and the names step's spec from the plan.
"""

from __future__ import annotations


import copy

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import claimed, final, verify
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._lab.step_specs import step_spec
from ansible_collections.nslab.net.plugins.module_utils._names.plan import hosts_lines, peer_lines
from ansible_collections.nslab.net.plugins.module_utils._overlay import plan as op
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import lab_summary

HOST_FILES = dict(hosts='127.0.0.1\tlocalhost\n', resolv_conf='nameserver 192.0.2.53\n', systemd_resolv_conf=None)
HOST = {'host': {'links': [dict(name='eth0', kind='veth', mtu=1500, addresses=['198.51.100.11/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
        'namespaces': {}, 'name_files': HOST_FILES}
#: This host (h1): br0 with web and client, db with dbc, and iso with isoc.
NETWORKS = [dict(name='br0', subnet='10.0.1.0/24'), dict(name='db', subnet='10.1.1.0/24'),
            dict(name='iso', subnet='10.2.1.0/24', icc=False)]
NAMESPACES = [dict(name='web'), dict(name='client'), dict(name='dbc', networks=['db']),
              dict(name='isoc', networks=['iso'])]
#: h2 has the same networks and namespaces (their addresses allocated by h2's run) and one of
#: its own on br0, solo; h3 has br0 only.
H2_NAMESPACES = [dict(name='web', network='br0', address='10.0.2.2'), dict(name='client', network='br0', address='10.0.2.3'),
                 dict(name='solo', network='br0', address='10.0.2.4'), dict(name='dbc', network='db', address='10.1.2.2'),
                 dict(name='isoc', network='iso', address='10.2.2.2')]
H3_NAMESPACES = [dict(name='solo', network='br0', address='10.0.3.9')]


def peers(h2=None, h3=None, h2_address='198.51.100.12'):
    """The overlay's peers as the controller gives them; None: namespaces not known in this run."""
    return [dict(name='h2', address=h2_address, namespaces=h2,
                 networks=[dict(network='br0', subnet='10.0.2.0/24'), dict(network='db', subnet='10.1.2.0/24'),
                           dict(network='iso', subnet='10.2.2.0/24')]),
            dict(name='h3', address='198.51.100.13', namespaces=h3, networks=[dict(network='br0', subnet='10.0.3.0/24')])]


def arguments(overlay_peers, **extra):
    args = dict(name='lab', networks=NETWORKS, namespaces=NAMESPACES, overlay=dict(vni=42, peers=overlay_peers))
    args.update(extra)
    return args


def module_params(args):
    """What lab_network's AnsibleModule makes of the task arguments ``args``."""
    result = ArgumentSpecValidator(LAB_ARGS['argument_spec']).validate(copy.deepcopy(args))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def plan_of(args, owned=None):
    return lab_plan(lab_spec(lab_variables(module_params(args))), copy.deepcopy(HOST), owned)


def files_of(plan):
    """``{path: text}`` the names step writes for ``plan``, from the plan alone."""
    return step_spec('names', plan['names'], 'present', plan, {}, 'nft')['files']


def hosts(plan, netns):
    return files_of(plan)['/etc/netns/%s/hosts' % netns].splitlines()


def named(plan, netns):
    """``{name: [address]}`` as a resolver reads the hosts file of ``netns`` (first line first)."""
    found = {}
    for line in hosts(plan, netns):
        fields = line.split('#', 1)[0].split()
        for name in fields[1:]:
            found.setdefault(name, []).append(fields[0])
    return found


def layout_namespaces(plan):
    return {peer['name']: peer['namespaces'] for peer in plan['overlay']['peers']}


def record_after(plan):
    return verify('lab', final(plan, {}), {})


# The argument.

def test_omitted_namespaces_are_none_and_given_ones_are_checked_and_kept():
    spec = lab_spec(lab_variables(module_params(arguments(peers(h2=H2_NAMESPACES)))))
    assert [peer['namespaces'] for peer in spec['overlay']['peers']] == [H2_NAMESPACES, None]
    assert lab_spec(lab_variables(module_params(arguments(peers(h2=[], h3=[])))))['overlay']['peers'][0]['namespaces'] == []


@pytest.mark.parametrize('namespace,problem', [
    (dict(name='x', network='br0', address='10.0.9.1'), 'overlay: peer h2: namespace x: address 10.0.9.1 is not in '
                                                        '10.0.2.0/24, the subnet of network br0'),
    (dict(name='x', network='front', address='10.0.2.9'), "overlay: peer h2: namespace x is on network front, which is "
                                                          "not one of the peer's"),
    (dict(name='x', network='br0', address='nope'), "overlay: peer h2: namespace x: address 'nope' is not an IPv4 address"),
    (dict(name='a/b', network='br0', address='10.0.2.9'), "overlay: peer h2: namespaces[0]: namespace name 'a/b' may not "
                                                          "contain '/'"),
])
def test_a_peer_namespace_off_the_peer_s_networks_fails_naming_it(namespace, problem):
    with pytest.raises(InvalidInput) as caught:
        lab_spec(lab_variables(module_params(arguments(peers(h2=[namespace])))))
    assert caught.value.problems == [problem]


# The layout: given, recorded, unknown.

def test_the_layout_keeps_given_namespaces_and_none_where_nothing_is_known():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES)))
    assert layout_namespaces(plan) == dict(h2=H2_NAMESPACES, h3=None)


def test_omitted_namespaces_are_the_recorded_ones_and_given_ones_replace_them():
    owned = record_after(plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES))))
    assert owned.overlay_namespaces == dict(h2=H2_NAMESPACES, h3=H3_NAMESPACES)
    assert layout_namespaces(plan_of(arguments(peers()), owned)) == dict(h2=H2_NAMESPACES, h3=H3_NAMESPACES)
    moved = [dict(name='solo', network='br0', address='10.0.3.10')]
    assert layout_namespaces(plan_of(arguments(peers(h3=moved)), owned)) == dict(h2=H2_NAMESPACES, h3=moved)


def test_recorded_namespaces_the_peer_s_subnets_no_longer_hold_are_dropped():
    owned = record_after(plan_of(arguments(peers(h3=H3_NAMESPACES))))
    renumbered = peers()
    renumbered[1]['networks'] = [dict(network='br0', subnet='10.0.30.0/24')]
    assert layout_namespaces(plan_of(arguments(renumbered), owned))['h3'] == []


def test_a_peer_whose_address_is_unknown_has_no_entries_and_no_names():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES, h2_address=None)))
    assert plan['overlay']['unknown'] == ['h2']
    assert 'web.h2' not in named(plan, 'client')


# The record keeps them.

def test_the_record_keeps_the_namespaces_of_every_peer_that_has_known_ones():
    record = final(plan_of(arguments(peers(h2=H2_NAMESPACES))), {})
    assert record['overlay']['namespaces'] == dict(h2=H2_NAMESPACES)
    # The claim before a run keeps the old ones beside the new ones, as it does addresses.
    owned = record_after(plan_of(arguments(peers(h3=H3_NAMESPACES))))
    claim = claimed(owned, plan_of(arguments(peers(h2=H2_NAMESPACES)), owned))
    assert claim['overlay']['namespaces'] == dict(h2=H2_NAMESPACES, h3=H3_NAMESPACES)


def test_a_peer_that_leaves_the_overlay_leaves_the_record_with_its_namespaces():
    owned = record_after(plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES))))
    gone = plan_of(arguments(peers()[:1]), owned)
    assert final(gone, {})['overlay']['namespaces'] == dict(h2=H2_NAMESPACES)
    assert 'h3' not in ' '.join(hosts(gone, 'client'))


def test_a_record_of_a_release_without_peer_namespaces_knows_none():
    owned = verify('lab', dict(version=1, bridges=[], namespaces={},
                               overlay=dict(devices=['nslab.42'], peers={'h2': '198.51.100.12'})), {})
    assert owned.overlay_namespaces == {}
    assert layout_namespaces(plan_of(arguments(peers(h2_address=None)), owned)) == dict(h2=None, h3=None)


# The hosts files.

def test_a_namespace_names_the_peers_namespaces_of_its_networks_only():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES)))
    client = named(plan, 'client')
    assert client['web.h2'] == client['web.h2.lab'] == ['10.0.2.2']
    assert client['solo.h3'] == ['10.0.3.9'] and client['solo.h2'] == ['10.0.2.4']
    # Isolated networks do not name each other, across hosts either.
    assert not [name for name in client if name.startswith(('dbc', 'isoc'))]
    dbc = named(plan, 'dbc')
    assert dbc['dbc.h2'] == dbc['dbc.h2.lab'] == ['10.1.2.2']
    assert not [name for name in dbc if name.startswith(('web', 'solo', 'client', 'isoc'))]
    assert named(plan, 'isoc')['isoc.h2'] == ['10.2.2.2']  # named, though icc: false keeps it unreached


def test_a_name_resolves_to_one_namespace_this_host_s_first_then_the_first_peer_s():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES)))
    client = named(plan, 'client')
    web = plan['namespaces'][0]['networks'][0]['address']
    assert client['web'] == client['web.lab'] == [web]  # h2's web is web.h2 only
    assert client['solo'] == client['solo.lab'] == ['10.0.2.4']  # h2 is listed before h3
    # On db, this host's web is not named: h2's db namespace may take a bare name there.
    plan = plan_of(arguments(peers(h2=[dict(name='web', network='db', address='10.1.2.7')])))
    assert named(plan, 'dbc')['web'] == ['10.1.2.7'] and named(plan, 'client')['web'] == [web]


def test_the_peers_come_after_this_host_s_namespaces_and_before_the_host_s_hosts_each_in_a_block():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES)))
    lines = hosts(plan, 'client')[1:]
    web, client = (ns['networks'][0]['address'] for ns in plan['namespaces'][:2])
    assert lines == [
        '# the namespaces of its networks',
        '%s\tweb web.lab' % web,
        '%s\tclient client.lab' % client,
        '# the namespaces of host h2',
        '10.0.2.2\tweb.h2 web.h2.lab',
        '10.0.2.3\tclient.h2 client.h2.lab',
        '10.0.2.4\tsolo solo.lab solo.h2 solo.h2.lab',
        '# the namespaces of host h3',
        '10.0.3.9\tsolo.h3 solo.h3.lab',
        "# the host's /etc/hosts",
        '127.0.0.1\tlocalhost',
    ]
    # A peer with nothing on this namespace's networks has no block.
    assert '# the namespaces of host h3' not in hosts(plan, 'dbc')


def test_a_peer_whose_inventory_name_is_no_host_name_is_named_by_the_bare_names_only():
    peer = dict(name='my host', namespaces=[dict(name='web', network='br0', address='10.0.2.2'),
                                            dict(name='solo', network='br0', address='10.0.2.4')])
    assert peer_lines(peer, ['br0'], 'lab', {'web'}) == ['10.0.2.4\tsolo solo.lab']
    assert peer_lines(dict(peer, name='198.51.100.12'), ['br0'], 'lab', set())[0] == (
        '10.0.2.2\tweb web.lab web.198.51.100.12 web.198.51.100.12.lab')


def test_a_peer_namespace_on_two_shared_networks_has_a_line_on_each():
    two = [dict(name='api', network='br0', address='10.0.2.5'), dict(name='api', network='db', address='10.1.2.5')]
    lines = hosts_lines(dict(name='x', networks=[dict(network='br0', address='10.0.1.9'), dict(network='db', address='10.1.1.9')]),
                        [], 'lab', [], None, [dict(name='h2', namespaces=two)])
    assert [line for line in lines if 'api' in line] == ['10.0.2.5\tapi api.lab api.h2 api.h2.lab',
                                                         '10.1.2.5\tapi api.lab api.h2 api.h2.lab']


def test_names_from_the_record_write_the_same_files_as_names_given():
    given = plan_of(arguments(peers(h2=H2_NAMESPACES, h3=H3_NAMESPACES)))
    recorded = plan_of(arguments(peers()), record_after(given))
    assert files_of(recorded) == files_of(given)


def test_without_names_known_the_files_are_those_of_a_lab_without_peers():
    alone = plan_of(dict(arguments([]), overlay=None))
    assert files_of(plan_of(arguments(peers()))) == files_of(alone)


def test_the_summary_says_how_peers_namespaces_are_named_and_for_how_many_peers():
    plan = plan_of(arguments(peers(h2=H2_NAMESPACES)))
    summary = lab_summary(plan, HOST, 'nft', 'lab')
    assert summary['names']['peers'] == dict(hosts='NAME.PEER and NAME.PEER.lab', known=1, peers=2)
    assert ("         and those of the overlay's peers on them, as NAME.PEER and NAME.PEER.lab (NAME too where no "
            "other has it); known for 1 of 2 peers") in summary['text']
    assert 'peers' not in lab_summary(plan_of(dict(arguments([]), overlay=None)), HOST, 'nft', 'lab')['names']


def test_the_layout_s_peers_namespaces_are_copies():
    given = copy.deepcopy(H2_NAMESPACES)
    spec = op.overlay_spec(dict(vni=42, peers=peers(h2=given)))
    layout = op.overlay_layout(spec, dict(address='198.51.100.11', interface='eth0', mtu=1500), [], {})
    layout['peers'][0]['namespaces'][0]['address'] = 'changed'
    assert given == H2_NAMESPACES
