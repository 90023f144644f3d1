# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's planning: checking the variables as a whole, allocating addresses, module inputs."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import final, verify
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import lab_diagram, lab_summary

EMPTY_HOST = {'host': {'links': [], 'default_routes': {}}, 'namespaces': {}}
# The role's defaults (roles/lab/defaults/main.yml), which the role always passes.
DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])


def spec(variables):
    return lab_spec(dict(DEFAULTS, **variables))


def seeds(**extra):
    variables = dict(gateway='10.0.0.254', namespaces=[
        dict(name='ns1', address='10.0.0.1', publish=['8000:8000'], command='python3 -m http.server 8000'),
        dict(name='ns2')])
    variables.update(extra)
    return variables


def host_with(*holders, default_via='eth0'):
    """A netns_info result where each ``(netns, link, address)`` holds an address."""
    info = {'host': {'links': [dict(name='eth0', addresses=['198.51.100.2/24'])],
                     'default_routes': {'4': dict(gateway='198.51.100.1', interface=default_via)} if default_via else {}},
            'namespaces': {}}
    for netns, link, address in holders:
        view = info['host'] if netns is None else info['namespaces'].setdefault(netns, {'links': []})
        view['links'].append(dict(name=link, addresses=[address]))
    return info


def addresses(plan):
    return {p['peer']['netns']: p['peer']['addresses'][0] for p in plan['pairs']}


def problems_of(variables):
    with pytest.raises(InvalidInput) as caught:
        spec(variables)
    return caught.value.problems


def test_the_seeds_lab_becomes_one_task_per_module():
    plan = lab_plan(spec(seeds()), host_with())
    assert plan['netns'] == ['ns1', 'ns2']
    assert plan['bridges'] == [dict(name='br0', addresses=['10.0.0.254/24'], mtu=1500, up=True)]
    assert plan['masquerade'] == [dict(bridge='br0', subnet='10.0.0.0/24', out_interface='eth0', icc=True,
                                       masquerade=True)]
    assert plan['pairs'][0] == dict(name='ns1-eth0', master='br0', hairpin=True, mtu=1500, peer=dict(
        name='eth0', netns='ns1', addresses=['10.0.0.1/24'], gateway='10.0.0.254'))
    assert addresses(plan) == {'ns1': '10.0.0.1/24', 'ns2': '10.0.0.2/24'}
    # The ports as lab_spec parsed them: the plan's one form of them.
    assert plan['publish'] == [dict(bridge='br0', destination='10.0.0.1',
                                    ports=[dict(proto='tcp', host_ip=None, host_port=8000, container_port=8000)]),
                               dict(bridge='br0', destination='10.0.0.2', ports=[])]
    assert plan['services'] == [dict(name='ns1', netns='ns1', command='python3 -m http.server 8000')]
    assert all(not items for items in plan['remove'].values())


def test_gateway_defaults_to_the_first_usable_address_and_is_never_allocated():
    plan = lab_plan(spec(dict(subnet='10.1.0.0/24', namespaces=[dict(name='a'), dict(name='b')])), EMPTY_HOST)
    assert plan['bridges'][0]['addresses'] == ['10.1.0.1/24']
    assert addresses(plan) == {'a': '10.1.0.2/24', 'b': '10.1.0.3/24'}
    assert plan['masquerade'][0]['out_interface'] is None  # no default route: any other interface


def test_a_namespace_keeps_its_address_when_others_come_and_go():
    info = host_with(('b', 'eth0', '10.0.0.3/24'), ('c', 'eth0', '10.0.0.4/24'))
    plan = lab_plan(spec(dict(namespaces=[dict(name='new'), dict(name='c'), dict(name='b')])), info)
    assert addresses(plan) == {'new': '10.0.0.2/24', 'c': '10.0.0.4/24', 'b': '10.0.0.3/24'}
    plan = lab_plan(spec(dict(namespaces=[dict(name='c')])), info)
    assert addresses(plan) == {'c': '10.0.0.4/24'}


def test_addresses_held_by_anything_else_are_never_handed_out():
    info = host_with(('stranger', 'veth9', '10.0.0.2/24'), (None, 'tap0', '10.0.0.3/24'))
    plan = lab_plan(spec(dict(namespaces=[dict(name='a')])), info)
    assert addresses(plan) == {'a': '10.0.0.4/24'}


def test_an_explicit_address_wins_over_one_a_member_merely_holds():
    info = host_with(('b', 'eth0', '10.0.0.5/24'))
    plan = lab_plan(spec(dict(namespaces=[dict(name='a', address='10.0.0.5'), dict(name='b')])), info)
    assert addresses(plan) == {'a': '10.0.0.5/24', 'b': '10.0.0.2/24'}


def test_an_explicit_address_held_outside_the_lab_fails_naming_the_holder():
    info = host_with(('stranger', 'veth9', '10.0.0.7/24'))
    with pytest.raises(InvalidInput, match='namespace a: address 10.0.0.7 is in use by veth9 in namespace stranger'):
        lab_plan(spec(dict(namespaces=[dict(name='a', address='10.0.0.7')])), info)


def test_a_full_subnet_fails_naming_the_network():
    with pytest.raises(InvalidInput, match=r'network br0: no free address left in 10.0.0.0/30 for namespace c'):
        lab_plan(spec(dict(subnet='10.0.0.0/30', namespaces=[dict(name='b'), dict(name='c')])), EMPTY_HOST)


@pytest.mark.parametrize('variables, message', [
    (dict(namespaces=[dict(name='a', address='10.0.0.9'), dict(name='b', address='10.0.0.9')]),
     'address 10.0.0.9 is given to both namespace a and namespace b'),
    (dict(namespaces=[dict(name='a', address='10.9.0.9')]),
     'namespace a: address 10.9.0.9 is outside the subnet 10.0.0.0/24'),
    (dict(namespaces=[dict(name='a', address='10.0.0.255')]),
     'namespace a: address 10.0.0.255 is the broadcast address of 10.0.0.0/24'),
    (dict(namespaces=[dict(name='a', address='10.0.0.1')]), 'namespace a: address 10.0.0.1 is the gateway'),
    (dict(namespaces=[dict(name='a', publish=['80:80']), dict(name='b', publish=['80:8080'])]),
     'host port 80/tcp is published twice'),
    (dict(namespaces=[dict(name='averyverylongname')]),
     "namespace averyverylongname: host interface interface name 'averyverylongname-eth0' is longer"),
    (dict(bridge='a-bridge-name-too-long'), "interface name 'a-bridge-name-too-long' is longer"),
    (dict(namespaces=[dict(name='a'), dict(name='a')]), 'namespace a is listed more than once'),
    (dict(namespaces=[dict(name='a', publish=['80:80/sctp'])]), 'protocol sctp is not tcp or udp'),
    (dict(subnet='10.0.0.1/24'), 'has host bits set'),
    (dict(gateway='10.1.0.1'), 'network br0: gateway 10.1.0.1 is outside the subnet 10.0.0.0/24'),
    (dict(networks=[dict(name='x', subnet='10.0.0.0/16'), dict(name='y', subnet='10.0.5.0/24')]),
     'networks x (10.0.0.0/16) and y (10.0.5.0/24) overlap'),
    (dict(namespaces=[dict(name='a', networks=['nope'])]), "network 'nope' is not one of the lab networks"),
    (dict(namespaces=[dict(name='a', adress='10.0.0.5')]), 'namespace a: unknown option adress'),
    (dict(namespaces=[dict(name='a', command='  ')]), 'namespace a: command must be a non-empty string'),
])
def test_bad_variables_fail_naming_the_entry(variables, message):
    assert any(message in problem for problem in problems_of(variables)), problems_of(variables)


def test_every_problem_is_reported_at_once():
    problems = problems_of(dict(subnet='10.0.0.0/24', namespaces=[
        dict(name='a', address='10.9.0.1'), dict(name='b', publish=['x'])]))
    assert len(problems) == 2


def multi_network():
    return dict(networks=[dict(name='front', bridge='br-front', subnet='10.10.0.0/24'),
                          dict(name='back', bridge='br-back', subnet='10.20.0.0/24', masquerade=False, icc=False)],
                namespaces=[dict(name='web', publish=['8080:80']),
                            dict(name='api', networks=['front', dict(network='back', address='10.20.0.50')]),
                            dict(name='db', networks=['back'])])


def test_a_namespace_joins_several_networks_with_its_default_route_on_the_first():
    plan = lab_plan(spec(multi_network()), host_with())
    api = [p for p in plan['pairs'] if p['peer']['netns'] == 'api']
    assert [(p['name'], p['master'], p['peer']['name'], p['peer']['addresses'], p['peer'].get('gateway'))
            for p in api] == [('api-eth0', 'br-front', 'eth0', ['10.10.0.3/24'], '10.10.0.1'),
                              ('api-eth1', 'br-back', 'eth1', ['10.20.0.50/24'], None)]
    assert [n['masquerade'] for n in plan['masquerade']] == [True, False]
    assert [n['icc'] for n in plan['masquerade']] == [True, False]
    assert plan['publish'][0] == dict(bridge='br-front', destination='10.10.0.2',
                                      ports=[dict(proto='tcp', host_ip=None, host_port=8080, container_port=80)])


def owning(plan_spec, host):
    """What a lab owns after building ``plan_spec`` on ``host``: its record, as verified."""
    built = lab_plan(plan_spec, host)
    inodes = {name: index + 100 for index, name in enumerate(built['netns'])}
    return verify('lab', final(built, inodes), inodes), inodes


def test_teardown_removes_every_namespace_link_port_rule_and_service_the_lab_owns():
    owned, unused = owning(spec(multi_network()), host_with())
    host = host_with(*[(None, name, '10.99.0.1/32') for name in ('web-eth0', 'api-eth0', 'api-eth1', 'db-eth0')])
    # Whatever the variables say now: none at all here.
    plan = lab_plan(spec(dict(state='absent')), host, owned)
    assert plan['netns'] == [] and plan['pairs'] == [] and plan['bridges'] == []
    remove = plan['remove']
    assert remove['services'] == []  # none of them runs a command
    assert remove['netns'] == ['api', 'db', 'web']
    assert remove['pairs'] == []  # they go with their namespaces, in one batch of the kernel's
    assert sorted(remove['dying']) == ['api-eth0', 'api-eth1', 'db-eth0', 'web-eth0']
    assert remove['publish'] == [dict(bridge='br-back'), dict(bridge='br-front')]
    assert remove['masquerade'] == [dict(bridge='br-back'), dict(bridge='br-front')]
    assert remove['bridges'] == [dict(name='br-back'), dict(name='br-front')]


def test_teardown_of_a_lab_that_owns_nothing_removes_nothing():
    plan = lab_plan(spec(dict(seeds(), state='absent')), host_with())
    # The name files carry the lab's tag, not a record entry: the names step looks for them.
    assert plan['remove'].pop('names') == ['lab']
    assert all(items == [] for items in plan['remove'].values()), plan['remove']


def test_one_namespace_can_go_while_the_lab_stays():
    owned, unused = owning(spec(seeds()), host_with())
    variables = seeds()
    variables['namespaces'][1]['state'] = 'absent'
    plan = lab_plan(spec(variables), host_with(('ns2', 'eth0', '10.0.0.2/24')), owned)
    assert plan['netns'] == ['ns1']
    assert plan['remove']['netns'] == ['ns2']
    # br0's publishing is exclusive: ns2's address, no longer listed, is unpublished there.
    assert plan['remove']['publish'] == [] and [p['destination'] for p in plan['publish']] == ['10.0.0.1']
    assert plan['remove']['bridges'] == [] and plan['remove']['masquerade'] == []


def test_a_namespace_dropped_from_the_list_goes_like_one_marked_absent():
    owned, unused = owning(spec(seeds()), host_with())
    variables = seeds()
    del variables['namespaces'][0]
    plan = lab_plan(spec(variables), host_with(), owned)
    assert plan['netns'] == ['ns2'] and plan['remove']['netns'] == ['ns1']
    assert plan['remove']['services'] == [dict(name='ns1', netns='ns1')]


def test_the_summary_lists_urls_that_reach_each_published_port():
    plan = lab_plan(spec(seeds(namespaces=seeds()['namespaces'] + [
        dict(name='ns3', publish=['127.0.0.1:9000:9000', '5353:53/udp'])])), host_with())
    summary = lab_summary(plan, host_with(), 'nft')
    urls = {(p['namespace'], p['host_port']): p['urls'] for p in summary['published']}
    assert urls == {('ns1', 8000): ['http://127.0.0.1:8000/', 'http://198.51.100.2:8000/'],
                    ('ns3', 9000): ['http://127.0.0.1:9000/'],
                    ('ns3', 5353): ['udp://127.0.0.1:5353', 'udp://198.51.100.2:5353']}
    assert summary['text'][1].split()[-2:] == ['iptables', 'nft']
    diagram = lab_diagram(summary, 'lab1')
    assert diagram.startswith('# Lab on lab1\n\n```mermaid\nflowchart LR\n')
    assert 'ns_ns1 --- br_br0' in diagram and 'br_br0 -- "NAT" --> up_eth0' in diagram
    assert '"0.0.0.0:8000/tcp -> 10.0.0.1:8000"] --> ns_ns1' in diagram


# -- an edit that moves an address is planned against what the run itself removes

def owned_pairs(*names):
    """What a lab owns: each namespace of ``names`` with its pair NAME-eth0/eth0."""
    record = dict(namespaces={name: dict(inode=index + 1, links=[dict(host='%s-eth0' % name, peer='eth0')])
                              for index, name in enumerate(names)}, bridges=['br0'])
    return verify('lab', record, {name: index + 1 for index, name in enumerate(names)})


def test_a_renamed_namespace_keeps_its_address_in_one_run():
    variables = seeds(namespaces=[dict(name='web', address='10.0.0.1'), dict(name='ns2', address='10.0.0.2')])
    host = host_with(('ns1', 'eth0', '10.0.0.1/24'), ('ns2', 'eth0', '10.0.0.2/24'))
    plan = lab_plan(spec(variables), host, owned_pairs('ns1', 'ns2'))
    assert addresses(plan) == {'web': '10.0.0.1/24', 'ns2': '10.0.0.2/24'}
    assert plan['remove']['netns'] == ['ns1']
    # The same address held by a namespace the lab did not make is still refused...
    with pytest.raises(InvalidInput, match='address 10.0.0.1 is in use by eth0 in namespace ns1'):
        lab_plan(spec(variables), host, owned_pairs('ns2'))
    # ... and so is one held by a link of the lab's namespace that the lab did not make.
    other = host_with(('ns2', 'dummy0', '10.0.0.1/24'), ('ns2', 'eth0', '10.0.0.2/24'))
    with pytest.raises(InvalidInput, match='address 10.0.0.1 is in use by dummy0 in namespace ns2'):
        lab_plan(spec(variables), other, owned_pairs('ns2'))


def test_addresses_swap_and_move_between_networks_in_one_run():
    swapped = seeds(namespaces=[dict(name='ns1', address='10.0.0.2'), dict(name='ns2', address='10.0.0.1')])
    host = host_with(('ns1', 'eth0', '10.0.0.1/24'), ('ns2', 'eth0', '10.0.0.2/24'))
    assert addresses(lab_plan(spec(swapped), host, owned_pairs('ns1', 'ns2'))) == {
        'ns1': '10.0.0.2/24', 'ns2': '10.0.0.1/24'}
    # ns2 moves to another network; ns3, new, takes its old address on br0.
    moved = dict(seeds(), networks=[dict(name='br0', subnet='10.0.0.0/24', gateway='10.0.0.254'),
                                    dict(name='back', subnet='10.20.0.0/24')],
                 namespaces=[dict(name='ns1', address='10.0.0.2'),
                             dict(name='ns2', networks=[dict(network='back', address='10.20.0.2')]),
                             dict(name='ns3', address='10.0.0.1')])
    assert addresses(lab_plan(spec(moved), host, owned_pairs('ns1', 'ns2'))) == {
        'ns1': '10.0.0.2/24', 'ns2': '10.20.0.2/24', 'ns3': '10.0.0.1/24'}


def test_an_allocation_never_takes_an_address_the_run_has_yet_to_free():
    variables = seeds(namespaces=[dict(name='web'), dict(name='ns2', address='10.0.0.2')])
    host = host_with(('ns1', 'eth0', '10.0.0.1/24'), ('ns2', 'eth0', '10.0.0.2/24'))
    assert addresses(lab_plan(spec(variables), host, owned_pairs('ns1', 'ns2')))['web'] == '10.0.0.3/24'
