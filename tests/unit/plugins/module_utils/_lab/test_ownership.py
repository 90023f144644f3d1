# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a lab owns: its record checked against the host, refusals, removals, the record it writes."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import (
    claimed, empty_record, final, lab_name_error, ownership_problems, removals, verify)
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan

HOST = {'host': {'links': [dict(name='eth0', kind=None, addresses=['198.51.100.2/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}}, 'namespaces': {}}
SEEDS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway='10.0.0.254', uplink=None,
             masquerade=True, icc=True, namespaces=[
                 dict(name='ns1', address='10.0.0.1', publish=['8000:8000'], command='sleep 1000'),
                 dict(name='ns2', address='10.0.0.2')])
INODES = {'ns1': 101, 'ns2': 102}


def plan_of(variables=None, owned=None, host=None):
    return lab_plan(lab_spec(dict(SEEDS, **(variables or {}))), host or HOST, owned)


def built_record():
    return final(plan_of(), INODES)


def host_with_links(*names):
    host = dict(HOST, host=dict(HOST['host'], links=HOST['host']['links'] + [
        dict(name=name, kind='bridge' if name.startswith('br') else 'veth', addresses=[]) for name in names]))
    return host


def test_the_record_of_a_built_lab_lists_namespaces_services_pairs_and_bridges():
    record = built_record()
    assert record == dict(version=1, bridges=['br0'], namespaces={
        'ns1': dict(inode=101, service=True, links=[dict(host='ns1-eth0', peer='eth0')]),
        'ns2': dict(inode=102, service=False, links=[dict(host='ns2-eth0', peer='eth0')])})
    assert final(plan_of(dict(state='absent')), INODES) == empty_record()


def test_the_kernel_decides_what_is_still_the_labs():
    record = built_record()
    record['namespaces']['ns3'] = dict(inode=None, service=False, links=[])  # claimed, then the run died
    owned = verify('lab', record, {'ns1': 101, 'ns2': 999, 'ns3': 103})
    assert sorted(owned.namespaces) == ['ns1', 'ns3']  # ns2 was made again by someone else
    assert owned.namespaces['ns3']['inode'] == 103 and not owned.lost
    assert 'namespace ns2 is no longer the one lab lab made' in owned.warnings[0]
    lost = verify('lab', record, {'ns2': 102})
    assert lost.lost == {'ns1'} and sorted(lost.namespaces) == ['ns1', 'ns2', 'ns3']


def test_what_the_lab_did_not_make_is_refused_naming_it_and_its_owner():
    plan = plan_of()
    nothing = verify('lab', empty_record(), {})
    host_links = {'eth0': None, 'br0': 'bridge', 'ns2-eth0': 'veth'}
    problems = ownership_problems('lab', plan, nothing, {'other': dict(namespaces={'ns2': {}}, bridges=[])},
                                  {'ns1': 5}, host_links)
    assert problems == [
        'namespace ns1 already exists and was not made by lab lab; the lab never takes over, changes or deletes '
        'what it did not make (remove it, or choose another name)',
        'namespace ns2 belongs to lab other; give this lab another namespace name',
        'bridge br0 already exists and was not made by lab lab; the lab never takes over, changes or deletes '
        'what it did not make (remove it, or choose another name)',
        'link ns2-eth0 already exists and was not made by lab lab; the lab never takes over, changes or deletes '
        'what it did not make (remove it, or choose another name)']
    owned = verify('lab', built_record(), INODES)
    assert ownership_problems('lab', plan, owned, {'lab': built_record()}, INODES, host_links) == []


def test_a_bridge_name_taken_by_another_kind_of_link_is_left_to_the_collision_checks():
    problems = ownership_problems('lab', plan_of(), verify('lab', empty_record(), {}), {}, {}, {'br0': 'veth'})
    assert not [p for p in problems if 'bridge br0' in p]


def test_dropped_and_renamed_objects_are_removed_and_nothing_else():
    owned = verify('lab', built_record(), INODES)
    host = host_with_links('br0', 'ns1-eth0', 'ns2-eth0')
    plan = plan_of(dict(bridge='br1', namespaces=[
        dict(name='ns2', address='10.0.0.2', networks=[dict(network='br1', host_interface='n2')])]), owned, host)
    remove = plan['remove']
    assert remove['services'] == [dict(name='ns1', netns='ns1')]
    assert remove['netns'] == ['ns1'] and remove['dying'] == ['ns1-eth0']
    assert remove['pairs'] == [dict(name='ns2-eth0', peer=dict(name='eth0', netns='ns2'))]
    assert remove['publish'] == [dict(bridge='br0')]
    assert remove['masquerade'] == [dict(bridge='br0')] and remove['bridges'] == [dict(name='br0')]
    assert remove['links'] == []


def test_a_namespace_deleted_by_hand_is_rebuilt_and_its_lingering_host_end_deleted():
    owned = verify('lab', built_record(), {'ns2': 102})
    plan = plan_of(owned=owned, host=host_with_links('br0', 'ns1-eth0', 'ns2-eth0'))
    assert plan['remove']['links'] == ['ns1-eth0'] and plan['remove']['netns'] == []
    assert plan['netns'] == ['ns1', 'ns2']
    record = claimed(owned, plan)
    assert record['namespaces']['ns1']['inode'] is None  # made again in this run
    assert record['namespaces']['ns2']['inode'] == 102


def test_the_claim_before_a_run_holds_what_the_lab_owns_and_what_the_run_may_create():
    owned = verify('lab', built_record(), INODES)
    plan = plan_of(dict(bridge='br1', namespaces=[dict(name='ns3')]), owned)
    record = claimed(owned, plan)
    assert sorted(record['namespaces']) == ['ns1', 'ns2', 'ns3']
    assert record['namespaces']['ns3'] == dict(inode=None, service=False, links=[dict(host='ns3-eth0', peer='eth0')])
    assert record['namespaces']['ns1']['service'] is True
    assert record['bridges'] == ['br0', 'br1']


def test_a_teardown_claims_nothing_new():
    owned = verify('lab', built_record(), INODES)
    record = claimed(owned, plan_of(dict(state='absent'), owned))
    assert sorted(record['namespaces']) == ['ns1', 'ns2'] and record['bridges'] == ['br0']


@pytest.mark.parametrize('name, ok', [('lab', True), ('web-2.test_a', True), ('', False), ('../x', False),
                                      ('-x', False), ('a' * 65, False), ('a b', False)])
def test_lab_names_are_file_names(name, ok):
    assert (lab_name_error(name) is None) == ok


def test_removals_without_a_record_are_empty():
    plan = plan_of(dict(state='absent'))
    assert removals(plan, verify('lab', empty_record(), {}), {'br0': 'bridge'}) == dict(
        services=[], publish=[], pairs=[], netns=[], masquerade=[], bridges=[], links=[], dying=[], overlay=[])


def test_a_lost_namespace_that_goes_has_its_name_removed_too():
    owned = verify('lab', built_record(), {'ns2': 102})
    plan = plan_of(dict(state='absent'), owned)
    assert plan['remove']['netns'] == ['ns1', 'ns2'] and plan['remove']['dying'] == []
