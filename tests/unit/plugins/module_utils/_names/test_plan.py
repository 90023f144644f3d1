# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The namespaces' name files, planned: /etc/netns/NS/hosts and resolv.conf, their owner's
marker, the operations from what is there to what the lab wants, and the plan's ``names``.

Namespaces are planned the way lab_network plans them (lab_spec, then lab_plan on a host as
netns_info describes it, with the host's own name files as the runner reads them).
"""

from __future__ import annotations


import copy
import json
import re

import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._lab.step_specs import step_spec
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import lab_summary
from ansible_collections.nslab.net.plugins.module_utils._names import plan as plan_module
from ansible_collections.nslab.net.plugins.module_utils._names.plan import (
    DEFAULT_HOSTS, NameOp, describe_files, file_path, hosts_lines, name_files, names_layout, names_problems,
    namespace_resolvers, owner, plan_names, wanted_paths)

HOSTS = '127.0.0.1\tlocalhost\n127.0.1.1\th1.example h1\n\n::1\tlocalhost ip6-localhost ip6-loopback\n'
RESOLV = 'nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n'
HOST_FILES = dict(hosts=HOSTS, resolv_conf=RESOLV, systemd_resolv_conf=None)
#: netns_info's view of a host before the lab, with the name files the runner reads.
HOST = {'host': {'links': [dict(name='eth0', addresses=['198.51.100.2/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
        'namespaces': {}, 'name_files': HOST_FILES}
DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])
#: Two isolated networks, a namespace on each and one on both.
SHOP = dict(name='shop', networks=[dict(name='front', bridge='br-front', subnet='10.10.0.0/24'),
                                   dict(name='back', bridge='br-back', subnet='10.20.0.0/24', icc=False)],
            namespaces=[dict(name='web', networks=[dict(network='front', address='10.10.0.2')]),
                        dict(name='api', networks=[dict(network='front', address='10.10.0.3'),
                                                   dict(network='back', address='10.20.0.50')]),
                        dict(name='db', networks=[dict(network='back', address='10.20.0.2')])])


def plan_of(variables, info=None, owned=None):
    return lab_plan(lab_spec(dict(DEFAULTS, **variables)), copy.deepcopy(HOST if info is None else info), owned)


def files_of(variables, host_files=None, directory='/etc/netns'):
    """``{path: text}`` the names step writes for the lab of ``variables``."""
    host_files = HOST_FILES if host_files is None else host_files
    plan = plan_of(variables, dict(HOST, name_files=host_files))
    return name_files(plan['names']['lab'], plan['namespaces'], plan['names']['settings'], host_files, directory)


def lines(files, netns, name='hosts'):
    return files['/etc/netns/%s/%s' % (netns, name)].splitlines()


def neighbours(files, netns):
    """The namespace lines of a hosts file: ``[(address, names...)]``."""
    found = []
    for line in lines(files, netns):
        if line and not line.startswith('#') and re.match(r'^10\.', line):
            found.append(tuple(line.split()))
    return found


# The hosts file

def test_the_marker_line_comes_first_and_names_the_lab_the_file_and_the_namespace():
    files = files_of(SHOP)
    for netns in ('web', 'api', 'db'):
        for name in ('hosts', 'resolv.conf'):
            first = lines(files, netns, name)[0]
            assert first.startswith('# nslab.net lab shop: /etc/%s of namespace %s. ' % (name, netns)), first
            assert owner(files[file_path(netns, name)]) == 'shop'
    assert all(text.endswith('\n') and not text.endswith('\n\n') for text in files.values())
    assert sorted(files) == ['/etc/netns/%s/%s' % (netns, name) for netns in ('api', 'db', 'web')
                             for name in ('hosts', 'resolv.conf')]


def test_isolated_networks_do_not_name_each_other():
    files = files_of(SHOP)
    assert neighbours(files, 'web') == [('10.10.0.2', 'web', 'web.shop'), ('10.10.0.3', 'api', 'api.shop')]
    assert neighbours(files, 'db') == [('10.20.0.50', 'api', 'api.shop'), ('10.20.0.2', 'db', 'db.shop')]
    assert 'db' not in '\n'.join(lines(files, 'web')[1:])
    assert 'web' not in '\n'.join(lines(files, 'db')[1:])


def test_a_namespace_on_both_networks_names_both_sides_with_their_addresses_there():
    assert neighbours(files_of(SHOP), 'api') == [
        ('10.10.0.2', 'web', 'web.shop'), ('10.10.0.3', 'api', 'api.shop'),
        ('10.20.0.50', 'api', 'api.shop'), ('10.20.0.2', 'db', 'db.shop')]


def test_each_namespace_is_named_as_itself_and_as_name_dot_lab():
    files = files_of(dict(namespaces=[dict(name='ns1', address='10.0.0.5'), dict(name='ns2')]))
    assert neighbours(files, 'ns1') == [('10.0.0.5', 'ns1', 'ns1.lab'), ('10.0.0.2', 'ns2', 'ns2.lab')]
    assert lines(files, 'ns1')[lines(files, 'ns1').index('# the namespaces of its networks') + 1] == (
        '10.0.0.5\tns1 ns1.lab')


def test_extra_hosts_come_first_the_labs_then_the_namespaces_own_then_the_neighbours_then_the_host():
    variables = dict(SHOP, extra_hosts=['gw:10.10.0.1', 'v6:[2001:db8::1]'],
                     namespaces=[dict(SHOP['namespaces'][0], extra_hosts=['api:192.0.2.80', 'h:2001:db8::2']),
                                 SHOP['namespaces'][1], SHOP['namespaces'][2]])
    files = files_of(variables)
    assert lines(files, 'web')[1:] == [
        '# extra_hosts',
        '10.10.0.1\tgw',
        '2001:db8::1\tv6',
        '192.0.2.80\tapi',
        '2001:db8::2\th',
        '# the namespaces of its networks',
        '10.10.0.2\tweb web.shop',
        '10.10.0.3\tapi api.shop',
        "# the host's /etc/hosts",
        '127.0.0.1\tlocalhost',
        '127.0.1.1\th1.example h1',
        '::1\tlocalhost ip6-localhost ip6-loopback',
    ]
    # Another namespace has the lab's extra hosts, not web's own.
    assert lines(files, 'db')[1:4] == ['# extra_hosts', '10.10.0.1\tgw', '2001:db8::1\tv6']
    assert '192.0.2.80\tapi' not in lines(files, 'db')


def test_without_extra_hosts_there_is_no_extra_hosts_section():
    assert '# extra_hosts' not in lines(files_of(SHOP), 'web')


def test_the_hosts_own_hosts_file_comes_last_without_its_blank_lines():
    hosts = lines(files_of(SHOP), 'db')
    start = hosts.index("# the host's /etc/hosts")
    assert hosts[start + 1:] == [line for line in HOSTS.splitlines() if line]


@pytest.mark.parametrize('host_hosts', [None, '', '\n  \n'])
def test_a_host_without_hosts_lines_gives_the_default_localhost_lines(host_hosts):
    hosts = lines(files_of(SHOP, dict(HOST_FILES, hosts=host_hosts)), 'web')
    assert hosts[hosts.index("# the host's /etc/hosts") + 1:] == list(DEFAULT_HOSTS) == [
        '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback']


def test_hosts_lines_of_a_namespace_alone():
    alone = dict(name='solo', networks=[dict(network='n', address='10.0.0.2')])
    assert hosts_lines(alone, [alone], 'lab', [], None) == [
        '# the namespaces of its networks', '10.0.0.2\tsolo solo.lab', "# the host's /etc/hosts"] + list(DEFAULT_HOSTS)


def test_every_name_in_a_hosts_file_is_read_back_by_a_resolver_as_written():
    # glibc ends a hosts line at "#": a namespace name holding one would leave a truncated
    # name (here "web", another namespace's) in every neighbour's file.
    variables = dict(namespaces=[dict(name='web', address='10.0.0.2'), dict(name='web#2', address='10.0.0.3')])
    try:
        files = files_of(variables)
    except InvalidInput:
        return  # refusing the name is as good
    for netns in ('web', 'web#2'):
        for line in lines(files, netns):
            data = line.split('#', 1)[0].split()
            if data and data[0] == '10.0.0.3':
                assert data[1:] == ['web#2', 'web#2.lab'], (netns, line)


# resolv.conf

def test_the_resolv_conf_of_a_plain_host():
    assert lines(files_of(SHOP), 'web', 'resolv.conf')[1:] == [
        'nameserver 192.0.2.53', 'search corp.example', 'options timeout:2']


def test_a_namespaces_own_dns_wins_over_the_labs_and_the_hosts():
    variables = dict(SHOP, dns=['198.51.100.53'], dns_search=['lab.example'],
                     namespaces=[dict(SHOP['namespaces'][0], dns=['203.0.113.53', '203.0.113.54']),
                                 dict(SHOP['namespaces'][1], dns_search=['api.example']),
                                 SHOP['namespaces'][2]])
    files = files_of(variables)
    assert lines(files, 'web', 'resolv.conf')[1:] == [
        'nameserver 203.0.113.53', 'nameserver 203.0.113.54', 'search lab.example', 'options timeout:2']
    assert lines(files, 'api', 'resolv.conf')[1:] == [
        'nameserver 198.51.100.53', 'search api.example', 'options timeout:2']
    assert lines(files, 'db', 'resolv.conf')[1:] == [
        'nameserver 198.51.100.53', 'search lab.example', 'options timeout:2']


def test_namespace_resolvers_name_each_namespace():
    plan = plan_of(dict(SHOP, namespaces=[dict(SHOP['namespaces'][0], dns=['203.0.113.53'])] + SHOP['namespaces'][1:]))
    resolvers = namespace_resolvers(plan['namespaces'], dict(dns=[], dns_search=[]), HOST_FILES)
    assert sorted(resolvers) == ['api', 'db', 'web']
    assert (resolvers['web'].nameservers, resolvers['web'].source) == (['203.0.113.53'], 'dns')
    assert (resolvers['db'].nameservers, resolvers['db'].source) == (['192.0.2.53'], '/etc/resolv.conf')


def test_files_go_below_the_directory_given():
    files = files_of(SHOP, directory='/tmp/x/netns')
    assert sorted(files)[0] == '/tmp/x/netns/api/hosts'
    assert file_path('web', 'hosts') == '/etc/netns/web/hosts'
    assert file_path('web', 'resolv.conf', '/srv') == '/srv/web/resolv.conf'


# The owner

def test_owner_is_the_lab_named_by_the_marker_line_and_only_the_first_line():
    assert owner('# nslab.net lab shop: /etc/hosts of namespace web. Every run...\n10.0.0.1 x\n') == 'shop'
    assert owner('# nslab.net lab web.v2-x_1: /etc/resolv.conf of namespace a.\n') == 'web.v2-x_1'
    assert owner('127.0.0.1 localhost\n# nslab.net lab shop: /etc/hosts of namespace web.\n') is None
    assert owner(' # nslab.net lab shop: x\n') is None
    assert owner('# nslab.net lab shop\n') is None
    assert owner('# generated by someone else\n') is None
    assert owner('') is None and owner(None) is None


# Foreign files

def test_a_file_without_the_marker_is_foreign_and_named_with_the_way_out():
    problems = names_problems('shop', ['/etc/netns/web/hosts', '/etc/netns/web/resolv.conf'],
                              {'/etc/netns/web/resolv.conf': 'nameserver 1.1.1.1\n'})
    assert problems == [
        "/etc/netns/web/resolv.conf exists and was not written by nslab.net; the lab never overwrites it (remove it, "
        "or set lab_names: false to manage the namespaces' names yourself)"]


def test_an_empty_or_unreadable_file_is_foreign():
    # read_name_files reads what is not a text file as ''.
    assert len(names_problems('shop', ['/etc/netns/web/hosts'], {'/etc/netns/web/hosts': ''})) == 1


def test_another_labs_file_is_named_with_that_lab():
    theirs = files_of(dict(SHOP, name='other'))
    problems = names_problems('shop', wanted_paths({'lab': 'shop'}, [dict(name='web')]), theirs)
    assert problems == [
        "/etc/netns/web/hosts belongs to lab other; give this lab's namespace another name",
        "/etc/netns/web/resolv.conf belongs to lab other; give this lab's namespace another name"]


def test_the_labs_own_files_and_files_it_does_not_want_are_no_problem():
    ours = files_of(SHOP)
    current = dict(ours, **{'/etc/netns/other/hosts': 'foreign\n'})
    assert names_problems('shop', list(ours), current) == []


def test_wanted_paths_are_both_files_of_every_namespace_or_none_without_names():
    namespaces = plan_of(SHOP)['namespaces']
    assert wanted_paths({'lab': 'shop'}, namespaces) == [
        '/etc/netns/web/hosts', '/etc/netns/web/resolv.conf', '/etc/netns/api/hosts', '/etc/netns/api/resolv.conf',
        '/etc/netns/db/hosts', '/etc/netns/db/resolv.conf']
    assert wanted_paths(None, namespaces) == []
    assert wanted_paths({'lab': 'shop'}, namespaces, '/srv')[0] == '/srv/web/hosts'


# The operations

def test_files_as_wanted_need_no_operation():
    files = files_of(SHOP)
    assert plan_names('shop', files, dict(files)) == []


def test_the_first_run_writes_every_file():
    files = files_of(SHOP)
    ops = plan_names('shop', files, {})
    assert ops == [NameOp('write', path, files[path]) for path in sorted(files)]


def test_a_changed_file_alone_is_rewritten():
    before = files_of(SHOP)
    after = files_of(dict(SHOP, extra_hosts=['gw:10.10.0.1']))
    changed = sorted(path for path in after if path.endswith('/hosts'))
    assert plan_names('shop', after, before) == [NameOp('write', path, after[path]) for path in changed]


def test_a_dropped_namespace_loses_its_files_its_directory_and_the_empty_netns_directory():
    before = files_of(SHOP)
    after = files_of(dict(SHOP, namespaces=SHOP['namespaces'][:2]))
    ops = plan_names('shop', after, before)
    assert [op for op in ops if op.op != 'write'] == [
        NameOp('remove', '/etc/netns/db/hosts'), NameOp('remove', '/etc/netns/db/resolv.conf'),
        NameOp('rmdir', '/etc/netns/db'), NameOp('rmdir', '/etc/netns')]
    # api's file no longer names db.
    assert [op.path for op in ops if op.op == 'write'] == ['/etc/netns/api/hosts']


def test_a_teardown_removes_every_file_of_the_lab_and_nothing_of_another_lab_or_anyone_else():
    ours = files_of(SHOP)
    theirs = files_of(dict(name='other', namespaces=[dict(name='x')]))
    foreign = {'/etc/netns/mine/resolv.conf': 'nameserver 1.1.1.1\n', '/etc/netns/web/notes': ''}
    current = dict(ours, **theirs)
    current.update(foreign)
    ops = plan_names('shop', {}, current)
    assert [op for op in ops if op.op == 'remove'] == [NameOp('remove', path) for path in sorted(ours)]
    assert [op.path for op in ops if op.op == 'rmdir'] == [
        '/etc/netns/api', '/etc/netns/db', '/etc/netns/web', '/etc/netns']
    assert not [op for op in ops if op.op == 'write']
    assert plan_names('other', {}, current) == [
        NameOp('remove', '/etc/netns/x/hosts'), NameOp('remove', '/etc/netns/x/resolv.conf'),
        NameOp('rmdir', '/etc/netns/x'), NameOp('rmdir', '/etc/netns')]


def test_nothing_of_the_lab_there_nothing_to_remove():
    theirs = files_of(dict(name='other', namespaces=[dict(name='x')]))
    assert plan_names('shop', {}, theirs) == []
    assert plan_names('shop', {}, {}) == []


def test_the_netns_directory_removed_is_the_one_given():
    before = files_of(SHOP, directory='/tmp/t')
    assert plan_names('shop', {}, before, '/tmp/t')[-1] == NameOp('rmdir', '/tmp/t')


def test_describe_files_keeps_the_labs_files_only():
    ours = files_of(SHOP)
    current = dict(ours, **files_of(dict(name='other', namespaces=[dict(name='x')])))
    current['/etc/netns/mine/hosts'] = 'foreign\n'
    assert describe_files(current, 'shop') == ours
    assert list(describe_files(current, 'shop')) == sorted(ours)


# The plan's names

def test_the_plans_names_carry_the_settings_the_host_files_and_a_resolver_per_namespace():
    plan = plan_of(dict(SHOP, dns_search=['lab.example'], extra_hosts=['gw:10.10.0.1'],
                        namespaces=[dict(SHOP['namespaces'][0], dns=['203.0.113.53'])] + SHOP['namespaces'][1:]))
    names = plan['names']
    assert names['lab'] == 'shop'
    assert names['settings'] == dict(dns=[], dns_search=['lab.example'], extra_hosts=[('gw', '10.10.0.1')])
    assert names['host_files'] == HOST_FILES
    assert names['warnings'] == []
    assert names['resolvers'] == {
        'web': dict(nameservers=['203.0.113.53'], search=['lab.example'], options=['timeout:2'], source='dns'),
        'api': dict(nameservers=['192.0.2.53'], search=['lab.example'], options=['timeout:2'],
                    source='/etc/resolv.conf'),
        'db': dict(nameservers=['192.0.2.53'], search=['lab.example'], options=['timeout:2'],
                   source='/etc/resolv.conf'),
    }
    assert plan['remove']['names'] == []
    # The plan carries no file text: the step makes them.
    assert 'files' not in names


def test_the_plan_namespaces_carry_their_own_settings():
    plan = plan_of(dict(namespaces=[dict(name='a', dns=['203.0.113.53'], dns_search=['a.example'],
                                         extra_hosts=['h:[2001:db8::1]']), dict(name='b')]))
    a, b = plan['namespaces']
    assert (a['dns'], a['dns_search'], a['extra_hosts']) == (['203.0.113.53'], ['a.example'], [('h', '2001:db8::1')])
    assert (b['dns'], b['dns_search'], b['extra_hosts']) == ([], [], [])


def test_a_loopback_only_host_warns_once_for_all_namespaces():
    plan = plan_of(SHOP, dict(HOST, name_files=dict(HOST_FILES, resolv_conf='nameserver 127.0.0.1\n')))
    assert len(plan['names']['warnings']) == 1 and 'lab_dns' in plan['names']['warnings'][0]
    assert {resolver['source'] for resolver in plan['names']['resolvers'].values()} == {'fallback'}


def test_no_warning_where_every_namespace_has_its_own_dns():
    variables = dict(SHOP, namespaces=[dict(ns, dns=['203.0.113.53']) for ns in SHOP['namespaces']])
    plan = plan_of(variables, dict(HOST, name_files={}))
    assert plan['names']['warnings'] == []
    assert names_layout('lab', [], dict(dns=[], dns_search=[], extra_hosts=[]), {})['warnings'] == []


def test_behind_the_stub_the_plan_names_systemd_resolveds_servers():
    files = dict(HOST_FILES, resolv_conf='nameserver 127.0.0.53\noptions edns0 trust-ad\n',
                 systemd_resolv_conf='nameserver 10.11.0.2\nsearch ec2.internal\n')
    plan = plan_of(SHOP, dict(HOST, name_files=files))
    assert plan['names']['resolvers']['web'] == dict(nameservers=['10.11.0.2'], search=['ec2.internal'], options=[],
                                                     source='/run/systemd/resolve/resolv.conf')
    assert plan['names']['warnings'] == []


def test_a_teardown_plans_no_names_and_removes_the_labs():
    plan = plan_of(dict(SHOP, state='absent'))
    assert plan['names'] is None
    assert plan['remove']['names'] == ['shop']


def test_names_false_plans_no_names_and_removes_the_labs():
    plan = plan_of(dict(SHOP, names=False))
    assert plan['names'] is None
    assert plan['remove']['names'] == ['shop']
    assert plan_of(dict(names=False))['remove']['names'] == ['lab']


def test_a_lab_without_namespaces_still_has_names_to_remove_its_old_files():
    plan = plan_of(dict(name='shop'))
    assert plan['names']['resolvers'] == {} and plan['remove']['names'] == []
    assert name_files('shop', plan['namespaces'], plan['names']['settings'], HOST_FILES) == {}


# The step's spec

def test_the_names_step_writes_the_files_of_the_plan_and_removes_by_the_labs_name():
    plan = plan_of(SHOP)
    built = step_spec('names', plan['names'], 'present', plan, {}, 'nft')
    assert built == dict(lab='shop', files=files_of(SHOP), directory='/etc/netns')
    torn = plan_of(dict(SHOP, state='absent'))
    assert step_spec('names', torn['remove']['names'], 'absent', torn, {}, 'nft') == dict(
        lab='shop', files={}, directory='/etc/netns')


def test_the_controller_reports_the_plans_names_as_it_receives_them():
    # The plan crosses to the controller as JSON.
    variables = dict(SHOP, extra_hosts=['gw:10.10.0.1'],
                     namespaces=[dict(SHOP['namespaces'][0], dns=['203.0.113.53'])] + SHOP['namespaces'][1:])
    plan = json.loads(json.dumps(plan_of(variables)))
    summary = lab_summary(plan, HOST, 'nft', 'shop')
    assert summary['names']['hosts'] == 'NAME and NAME.shop'
    assert [group['namespaces'] for group in summary['names']['resolvers']] == [['api', 'db'], ['web']]
    assert summary['text'][-2:] == [
        "         /etc/netns/NAMESPACE/resolv.conf of api db: nameserver 192.0.2.53, search corp.example (the host's)",
        '         /etc/netns/NAMESPACE/resolv.conf of web: nameserver 203.0.113.53, search corp.example (declared)']


def test_the_resolver_is_chosen_once_per_distinct_declaration(monkeypatch):
    calls = []
    real = plan_module.namespace_resolver

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(plan_module, 'namespace_resolver', counted)
    namespaces = [dict(name='ns%d' % index) for index in range(5)] + [dict(name='own', dns=['192.0.2.53'])]
    resolvers = plan_module.namespace_resolvers(namespaces, dict(dns=[], dns_search=[]), HOST_FILES)
    assert len(calls) == 2 and sorted(resolvers) == sorted(ns['name'] for ns in namespaces)
    assert resolvers['ns0'] is resolvers['ns4'] and resolvers['own'].nameservers == ['192.0.2.53']
