# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab run's steps are what each module would do with the same arguments.

lab_network builds each step's spec from its plan (step_specs) instead of re-validating the
step's arguments against the module's argument spec and parsing them again: every value was
checked once on this machine already, by lab_spec. These tests keep that honest. For every
step of the plans of representative labs, builds and teardowns: the arguments a module would
get pass that module's own argument spec, and the module's own parsing of them gives exactly
the spec the run converges.
"""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._firewall import masquerade_task, publish_task
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import MASQUERADE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import PUBLISH_ARGS
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._lab.runner import BUILD_ORDER, REMOVE_ORDER, STEPS
from ansible_collections.nslab.net.plugins.module_utils._lab.step_specs import step_spec
from ansible_collections.nslab.net.plugins.module_utils._netlink import bridge_task, netns_task, veth_task
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import BRIDGE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import NETNS_ARGS
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import PAIR_ARGS
from ansible_collections.nslab.net.plugins.module_utils._services import tasks as service_tasks
from ansible_collections.nslab.net.plugins.module_utils._services.spec import SERVICE_ARGS


#: step -> (the module's arguments, the list option the plan fills, the module's own parsing)
MODULES = dict(
    netns=(NETNS_ARGS, 'name', netns_task.netns_spec),
    bridge=(BRIDGE_ARGS, 'bridges', bridge_task.bridge_spec),
    nat_masquerade=(MASQUERADE_ARGS, 'networks', masquerade_task.masquerade_spec),
    veth=(PAIR_ARGS, 'pairs', veth_task.veth_spec),
    port_publish=(PUBLISH_ARGS, 'publish', publish_task.publish_spec),
    netns_service=(SERVICE_ARGS, 'services', service_tasks.service_spec),
)
PARAMS = dict(service_manager='auto', kill_processes=True)
EMPTY_HOST = {'host': {'links': [], 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
              'namespaces': {}}
HOST_LINKS = {'host': {'links': [dict(name='ns1-eth0', kind='veth', addresses=[]), dict(name='old-eth0', kind='veth'),
                                 dict(name='api-eth1', kind='veth', addresses=[])],
                       'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
              'namespaces': {}}
DEFAULTS = dict(name='lab', state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])
LABS = {
    'seeds': dict(gateway='10.0.0.254', namespaces=[
        dict(name='ns1', address='10.0.0.1', publish=['8000:8000'], command='python3 -m http.server 8000'),
        dict(name='ns2')]),
    'ports of every shape': dict(subnet='10.9.0.0/16', gateway='10.9.255.254', namespaces=[
        dict(name='web', publish=['8080:80', '127.0.0.1:8443:443', '5353:53/udp', '9000-9002:9000-9002', '8080:80'],
             command='sleep 1000', chdir='/tmp'),
        dict(name='db', address='10.9.0.50'), dict(name='gone', state='absent')]),
    'two networks': dict(networks=[
        dict(name='front', bridge='br-front', subnet='10.1.0.0/24'),
        dict(name='back', bridge='br-back', subnet='10.2.0.0/24', masquerade=False, icc=False, uplink='eth1')],
        namespaces=[dict(name='api', networks=[dict(network='front', publish=['8000:8000']), 'back']),
                    dict(name='db', networks=['back'])]),
}
# What a lab owns that the plans above no longer all declare: the removals have items too.
OWNED = Owned({'ns1': {'links': [dict(host='ns1-eth0', peer='eth0'), dict(host='ns1-eth1', peer='eth1')],
                       'service': True},
               'old': {'links': [dict(host='old-eth0', peer='eth0')], 'service': True},
               'api': {'links': [dict(host='api-eth1', peer='eth9')]}}, [], ['br0', 'br-old', 'br-front'], [])


def step_arguments(step, items, state, backend):
    """The arguments the module of that name would be called with for the same step."""
    unused, list_key, unused_parse = MODULES[step]
    raw = {list_key: items, 'state': state}
    if step == 'port_publish' and state == 'present':
        # The plan keeps the ports parsed; the module takes them as text.
        raw[list_key] = [dict(item, ports=[PublishedPort.from_dict(port, item['destination']).as_text()
                                           for port in item['ports']]) for item in items]
    if step in ('nat_masquerade', 'port_publish'):
        raw['backend'] = backend
    if step == 'port_publish' and state == 'present':
        raw['exclusive'] = True
    elif step == 'netns_service':
        raw['manager'] = PARAMS['service_manager']
    elif step == 'netns':
        raw['kill_processes'] = PARAMS['kill_processes'] if state == 'absent' else False
    return raw


def plans():
    for name, variables in LABS.items():
        spec = lab_spec(dict(DEFAULTS, **variables))
        yield name, lab_plan(spec, HOST_LINKS, OWNED)
        yield name + ', torn down', lab_plan(dict(spec, state='absent'), HOST_LINKS, OWNED)


def steps_of(plan):
    steps = [(step, 'absent', plan['remove'][key]) for step, key in REMOVE_ORDER if step != 'links']
    steps += [(step, 'present', plan[key]) for step, key in BUILD_ORDER]
    return [(step, state, items) for step, state, items in steps if items and step not in NO_MODULE]


PLANS = list(plans())
#: The steps with no module of their own (their specs are built only in step_specs).
NO_MODULE = ('overlay', 'names')


def test_the_run_has_work_for_every_step_the_modules_cover():
    assert set(STEPS) == set(MODULES) | set(NO_MODULE)


@pytest.mark.parametrize('name,plan', PLANS, ids=[name for name, unused in PLANS])
def test_every_step_is_valid_for_its_module_and_converges_what_the_module_would_parse(name, plan):
    seen = set()
    for step, state, items in steps_of(plan):
        args, unused, parse = MODULES[step]
        raw = step_arguments(step, items, state, 'nft')
        validator = ArgumentSpecValidator(args['argument_spec'], **{
            key: value for key, value in args.items() if key != 'argument_spec'})
        result = validator.validate(raw)
        assert not result.error_messages, (name, step, state, result.error_messages)
        assert step_spec(step, items, state, plan, PARAMS, 'nft') == parse(result.validated_parameters), (step, state)
        seen.add((step, state))
    # Positive control: the plans do exercise the builders, for removal as for building.
    assert len(seen) >= (3 if name.endswith('torn down') else 6), seen


def test_the_plans_cover_every_step_in_both_directions():
    seen = {(step, state) for unused, plan in PLANS for step, state, unused_items in steps_of(plan)}
    assert seen == {(step, state) for step in MODULES for state in ('present', 'absent')}


def test_published_ports_are_parsed_once_and_kept_in_the_plan():
    plan = lab_plan(lab_spec(dict(DEFAULTS, **LABS['ports of every shape'])), EMPTY_HOST)
    (web,) = (item for item in plan['publish'] if item['destination'] == '10.9.0.1')
    ports = web['ports']
    assert len(ports) == 6 and dict(proto='udp', host_ip=None, host_port=5353, container_port=53) in ports
