# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning for named namespaces: creation, stale entries, loopback, processes on delete."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView, Step, simulate_links
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import (
    NetnsEntry, parse_netns, plan_netns, report_netns)
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput


def live(name, lo_up=True):
    return NamespaceView(name, links=[Link('lo', index=1, up=lo_up, mtu=65536)])


def test_missing_namespaces_are_created_with_loopback_up():
    entries = {'ns1': NetnsEntry('ns1'), 'ns2': NetnsEntry('ns2')}
    views = {'ns1': NamespaceView('ns1', exists=False), 'ns2': NamespaceView('ns2', exists=False)}
    steps, problems = plan_netns(['ns1', 'ns2'], 'present', True, False, entries, views)
    assert problems == []
    assert [s.as_command() for s in steps] == [
        'ip netns add ns1', 'ip -n ns1 link set lo up', 'ip netns add ns2', 'ip -n ns2 link set lo up']
    assert report_netns(['ns1', 'ns2'], simulate_links(views, steps)) == [
        dict(name='ns1', path='/run/netns/ns1', loopback_up=True),
        dict(name='ns2', path='/run/netns/ns2', loopback_up=True)]


def test_existing_namespace_with_loopback_up_needs_nothing():
    entries = {'ns1': NetnsEntry('ns1', 'present')}
    assert plan_netns(['ns1'], 'present', True, False, entries, {'ns1': live('ns1')}) == ([], [])


def test_loopback_drift_is_repaired_both_ways():
    entries = {'ns1': NetnsEntry('ns1', 'present')}
    steps = plan_netns(['ns1'], 'present', True, False, entries, {'ns1': live('ns1', lo_up=False)})[0]
    assert steps == [Step('set_up', 'ns1', 'lo', up=True)]
    steps = plan_netns(['ns1'], 'present', False, False, entries, {'ns1': live('ns1')})[0]
    assert steps == [Step('set_up', 'ns1', 'lo', up=False)]


def test_a_stale_entry_is_replaced():
    entries = {'ns1': NetnsEntry('ns1', 'stale')}
    steps = plan_netns(['ns1'], 'present', True, False, entries, {'ns1': NamespaceView('ns1', exists=False)})[0]
    assert steps[0] == Step('create_netns', None, 'ns1', replace=True)


def test_delete_refuses_while_processes_run_unless_told_to_kill():
    entries = {'ns1': NetnsEntry('ns1', 'present', {4242: 'python3', 17: 'sleep'})}
    views = {'ns1': live('ns1')}
    steps, problems = plan_netns(['ns1'], 'absent', True, False, entries, views)
    assert steps == [] and '17 (sleep), 4242 (python3)' in problems[0] and 'kill_processes' in problems[0]
    steps, problems = plan_netns(['ns1'], 'absent', True, True, entries, views)
    assert problems == [] and steps == [Step('delete_netns', None, 'ns1', kill=[17, 4242])]
    assert steps[0].as_command() == 'kill 17 4242; ip netns delete ns1'


def test_delete_of_absent_is_nothing_and_of_stale_removes_the_file():
    entries = {'ns1': NetnsEntry('ns1'), 'ns2': NetnsEntry('ns2', 'stale')}
    steps = plan_netns(['ns1', 'ns2'], 'absent', True, False, entries, {})[0]
    assert steps == [Step('delete_netns', None, 'ns2', kill=[])]


@pytest.mark.parametrize('names, message', [
    (['ns1', 'ns1'], 'listed twice'), (['a/b'], "'/'"), ([''], 'empty'), ([], 'at least one'),
])
def test_bad_names_are_refused(names, message):
    with pytest.raises(InvalidInput) as err:
        parse_netns(dict(name=names))
    assert message in str(err.value)


def test_names_match_exactly():
    entries = {'ns1': NetnsEntry('ns1'), 'ns10': NetnsEntry('ns10', 'present')}
    views = {'ns1': NamespaceView('ns1', exists=False), 'ns10': live('ns10')}
    steps = plan_netns(['ns1'], 'present', True, False, entries, views)[0]
    assert steps[0] == Step('create_netns', None, 'ns1', replace=False)
