# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab at boot, planned: the template unit, the declaration a build stores, the operations.

Declarations are made the way lab_network makes them: the task arguments go through the
module's own argument spec (what AnsibleModule would hand the module), then lab_spec and
lab_plan on a host described as netns_info describes it. The property everything rests on
is that a stored declaration, fed back as a module's arguments, gives the same text: the
boot's run and the next playbook run then find nothing to rewrite.
"""

from __future__ import annotations


import copy
import json

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import final, verify
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._restore import plan as rp

CODE = 'sha256:' + 'c0de' * 16
PYTHON = '/usr/bin/python3'
#: A host before the lab: eth0 holds the default route (the uplink), no namespace exists.
HOST = {'host': {'links': [dict(name='eth0', kind='veth', mtu=1500, addresses=['198.51.100.11/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
        'namespaces': {}}
#: The same host just after a reboot: network-online.target is reached, the lab is gone.
BOOTED = HOST
SEEDS = dict(name='web', gateway='10.0.0.254', diagram_path='/tmp/web.md', restore_at_boot=True, namespaces=[
    dict(name='ns1', address='10.0.0.1', publish=['8000:8000'], command='python3 -m http.server 8000', chdir='/srv'),
    dict(name='new'),
    dict(name='gone', state='absent'),
    dict(name='keep')])
MULTI = dict(networks=[dict(name='front', bridge='br-front', subnet='10.10.0.0/24'),
                       dict(name='back', bridge='br-back', subnet='10.20.0.0/24', masquerade=False, icc=False)],
             namespaces=[dict(name='web', publish=['8080:80'], command='sleep 1000'),
                         dict(name='api', networks=['front', dict(network='back', address='10.20.0.50')]),
                         dict(name='db', networks=['back'])])
PEERS = [dict(name='h2', address='198.51.100.12', networks=[dict(network='br0', subnet='10.0.2.0/24')]),
         dict(name='h3', address='198.51.100.13', networks=[dict(network='br0', subnet='10.0.3.0/24')])]


def holding(*holders):
    """HOST where each ``(netns, link, address)`` holds an address, as after an earlier build."""
    info = copy.deepcopy(HOST)
    for netns, link, address in holders:
        info['namespaces'].setdefault(netns, {'links': []})['links'].append(dict(name=link, addresses=[address]))
    return info


def module_params(args):
    """What lab_network's AnsibleModule makes of the task arguments ``args``."""
    result = ArgumentSpecValidator(LAB_ARGS['argument_spec']).validate(copy.deepcopy(args))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def build(args, info, owned=None):
    """``(params, spec, plan)`` of a run of lab_network with ``args`` on a host holding ``info``."""
    params = module_params(args)
    spec = lab_spec(lab_variables(params))
    return params, spec, lab_plan(spec, info, owned)


def stored(args, info, owned=None, code=CODE):
    """The declaration text a successful build with ``args`` stores."""
    return rp.declaration(*build(args, info, owned), code=code)


def arguments(text):
    return json.loads(text)['ANSIBLE_MODULE_ARGS']


def current(**found):
    """What read_restore finds: by default nothing of the lab, no template, no other lab."""
    return dict(dict(declaration=None, code=None, template=None, template_ours=False, enabled=False,
                     other_labs=[]), **found)


def wanted(declaration='{"the": "declaration"}\n', code=CODE, template=None):
    return dict(declaration=declaration, code=code, template=rp.unit_text(PYTHON) if template is None else template)


def names(ops):
    return [op['op'] for op in ops]


# The template unit.

def test_the_template_runs_the_stored_code_on_the_stored_declaration_with_the_given_python():
    text = rp.unit_text('/opt/venv/bin/python3')
    lines = text.splitlines()
    assert lines[0] == rp.MARKER
    assert 'ExecStart=/opt/venv/bin/python3 /var/lib/nslab/restore/%i.pyz /var/lib/nslab/restore/%i.json' in lines
    assert text.endswith('\n')


def test_the_template_waits_for_the_network_and_the_firewall_services_and_never_holds_the_boot():
    lines = rp.unit_text(PYTHON).splitlines()
    after = [line for line in lines if line.startswith('After=')]
    assert len(after) == 1 and after[0].split('=', 1)[1].split() == ['network-online.target'] + list(rp.FIREWALL_UNITS)
    assert 'nftables.service' in rp.FIREWALL_UNITS  # it runs `flush ruleset` at boot
    assert 'Wants=network-online.target' in lines
    sections = {name: lines.index(name) for name in ('[Unit]', '[Service]', '[Install]')}
    assert sections['[Unit]'] < sections['[Service]'] < sections['[Install]']
    service = lines[sections['[Service]']:sections['[Install]']]
    assert {'Type=oneshot', 'RemainAfterExit=yes', 'TimeoutStartSec=300', 'SyslogIdentifier=nslab-restore'} <= set(service)
    assert lines[sections['[Install]'] + 1:] == ['WantedBy=multi-user.target']
    # Nothing requires the unit: a failed restore is a failed unit, not a failed boot.
    assert not [line for line in lines if line.startswith(('Requires=', 'Requisite=', 'BindsTo=', 'RequiredBy='))]


def test_an_instance_is_the_template_with_the_lab_name():
    assert rp.instance('web') == 'nslab-restore@web.service'
    assert rp.instance('lab-2.test_x') == 'nslab-restore@lab-2.test_x.service'


# The declaration.

def test_the_declaration_writes_in_every_address_the_plan_allocated():
    # "keep" holds 10.0.0.7 from an earlier build; "new" gets the lowest free address, .2.
    # After a reboot nothing holds .7: planned from the variables alone, keep would take .2.
    info = holding(('keep', 'eth0', '10.0.0.7/24'))
    params, spec, plan = build(SEEDS, info)
    stored_args = arguments(rp.declaration(params, spec, plan, CODE))
    assert [(ns['name'], [m['address'] for m in ns['networks']]) for ns in stored_args['namespaces']] == [
        ('ns1', ['10.0.0.1']), ('new', ['10.0.0.2']), ('keep', ['10.0.0.7'])]
    assert build(SEEDS, BOOTED)[2]['namespaces'][2]['networks'][0]['address'] == '10.0.0.3'
    assert [m['address'] for ns in build(stored_args, BOOTED)[2]['namespaces'] for m in ns['networks']] == [
        '10.0.0.1', '10.0.0.2', '10.0.0.7']


def test_the_declaration_holds_each_namespace_in_full_form_without_the_removed_ones():
    # Each port as lab_spec parsed it, in the form that parses back to it.
    stored_args = arguments(stored(SEEDS, holding(('keep', 'eth0', '10.0.0.7/24'))))
    assert stored_args['namespaces'] == [
        dict(name='ns1', command='python3 -m http.server 8000', chdir='/srv', networks=[
            dict(network='br0', address='10.0.0.1', interface='eth0', host_interface='ns1-eth0', publish=['8000:8000/tcp'])]),
        dict(name='new', networks=[
            dict(network='br0', address='10.0.0.2', interface='eth0', host_interface='new-eth0', publish=[])]),
        dict(name='keep', networks=[
            dict(network='br0', address='10.0.0.7', interface='eth0', host_interface='keep-eth0', publish=[])]),
    ]


def test_the_declaration_keeps_the_lab_arguments_but_not_the_controller_ones_and_says_present():
    text = stored(dict(SEEDS, backend='nft', service_manager='process', kill_processes=True, reuse_result=True), HOST)
    declared = json.loads(text)
    stored_args = declared['ANSIBLE_MODULE_ARGS']
    assert 'diagram_path' not in stored_args and 'restore_at_boot' not in stored_args
    assert set(stored_args) == set(LAB_ARGS['argument_spec']) - {'diagram_path', 'restore_at_boot', 'reuse_result'}
    assert (stored_args['name'], stored_args['state'], stored_args['gateway'], stored_args['backend'],
            stored_args['service_manager'], stored_args['kill_processes']) == (
        'web', 'present', '10.0.0.254', 'nft', 'process', True)
    assert declared['nslab'] == dict(version=rp.DECLARATION_VERSION, lab='web', code=CODE)
    assert set(declared) == {'ANSIBLE_MODULE_ARGS', 'nslab'}


def test_the_declaration_is_sorted_indented_json_with_a_final_newline():
    text = stored(SEEDS, HOST)
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + '\n'
    assert text.splitlines()[1].startswith(' "ANSIBLE_MODULE_ARGS": {')


def test_overlay_peers_take_the_address_the_plan_knew_and_unknown_ones_are_dropped():
    overlay = dict(vni=42, peers=PEERS)
    earlier = build(dict(name='web', overlay=overlay), HOST)[2]
    owned = verify('web', final(earlier, {}), {})
    # This run reached h2 only (--limit): h3's address comes from the record; h4 was never reached.
    unreached = dict(vni=42, peers=[PEERS[0], dict(PEERS[1], address=None), dict(name='h4', networks=[])])
    stored_overlay = arguments(stored(dict(name='web', overlay=unreached), HOST, owned))['overlay']
    assert [(peer['name'], peer['address']) for peer in stored_overlay['peers']] == [
        ('h2', '198.51.100.12'), ('h3', '198.51.100.13')]
    assert stored_overlay['peers'][1]['networks'] == [dict(network='br0', subnet='10.0.3.0/24')]
    assert (stored_overlay['vni'], stored_overlay['port'], stored_overlay['address']) == (42, 4789, None)


def test_overlay_peers_namespaces_given_or_recorded_are_written_in_and_unknown_ones_stay_unknown():
    h2 = [dict(name='web', network='br0', address='10.0.2.2'), dict(name='solo', network='br0', address='10.0.2.9')]
    known = [dict(PEERS[0], namespaces=h2), PEERS[1]]
    earlier = build(dict(name='web', overlay=dict(vni=42, peers=known)), HOST)[2]
    given = arguments(stored(dict(name='web', overlay=dict(vni=42, peers=known)), HOST))['overlay']
    assert [peer['namespaces'] for peer in given['peers']] == [h2, None]
    # A run that is not told them (the role's first run of the lab) writes those of the record:
    # a reboot takes the record.
    owned = verify('web', final(earlier, {}), {})
    recorded = arguments(stored(dict(name='web', overlay=dict(vni=42, peers=PEERS)), HOST, owned))['overlay']
    assert recorded == given


def test_a_lab_without_an_overlay_stores_none():
    assert arguments(stored(SEEDS, HOST))['overlay'] is None


LABS = {
    'seeds, one address held': (SEEDS, holding(('keep', 'eth0', '10.0.0.7/24')), None),
    'several networks': (MULTI, HOST, None),
    'overlay, a peer known from the record': (dict(name='web', overlay=dict(vni=42, peers=[
        PEERS[0], dict(PEERS[1], address=None), dict(name='h4', networks=[])])), HOST, 'record'),
    'overlay, peers\' namespaces given': (dict(name='web', overlay=dict(vni=42, peers=[
        dict(PEERS[0], namespaces=[dict(name='web', network='br0', address='10.0.2.2')]), dict(PEERS[1], namespaces=[])])),
        HOST, None),
    'overlay, peers\' namespaces known from the record': (dict(name='web', overlay=dict(vni=42, peers=PEERS)), HOST,
                                                          'namespaces'),
}


def _owned(owner, args):
    """The record of an earlier run that reached every peer, for the labs that need one."""
    if owner is None:
        return None
    peers = PEERS
    if owner == 'namespaces':
        peers = [dict(peer, namespaces=[dict(name='web', network='br0', address=peer['networks'][0]['subnet'][:-4] + '2')])
                 for peer in PEERS]
    earlier = build(dict(args, overlay=dict(args['overlay'], peers=peers)), HOST)[2]
    return verify('web', final(earlier, {}), {})


def host_after(plan):
    """The host once ``plan`` is built: each namespace holds its addresses."""
    return holding(*[(pair['peer']['netns'], pair['peer']['name'], pair['peer']['addresses'][0])
                     for pair in plan['pairs']])


def test_a_stored_declaration_fed_back_gives_the_same_text_at_boot_and_at_the_next_run():
    for label, (args, info, owner) in LABS.items():
        owned = _owned(owner, args)
        text = stored(args, info, owned)
        # The boot: the stored arguments, a host with nothing of the lab, no record.
        at_boot = stored(arguments(text), BOOTED)
        assert at_boot == text, label
        # A run of the stored arguments on the host as the boot left it (its record knows the peers).
        plan = build(arguments(text), BOOTED)[2]
        assert stored(arguments(at_boot), host_after(plan), verify('web', final(plan, {}), {})) == text, label
        # The next playbook run: the playbook's own arguments, on the host the boot rebuilt.
        assert stored(args, host_after(plan), verify('web', final(plan, {}), {})) == text, label


def test_the_code_digest_is_what_tells_two_declarations_of_the_same_lab_apart():
    assert stored(SEEDS, HOST, code='sha256:1') != stored(SEEDS, HOST, code='sha256:2')
    assert rp.code_of(stored(SEEDS, HOST, code='sha256:1')) == 'sha256:1'


def test_code_of_an_unreadable_declaration_is_none():
    for text in (None, '', 'not json', '[]', '{"nslab": {}}', '{"ANSIBLE_MODULE_ARGS": {}}'):
        assert rp.code_of(text) is None, text


# The operations.

def test_a_first_build_writes_the_code_before_the_declaration_and_enables_last_but_reload():
    ops = rp.plan_restore(current(), wanted(), 'web')
    assert names(ops) == ['write_code', 'write_declaration', 'write_template', 'enable', 'daemon_reload']
    assert ops[0] == dict(op='write_code', lab='web')
    assert ops[1] == dict(op='write_declaration', lab='web', text='{"the": "declaration"}\n')
    assert ops[2] == dict(op='write_template', text=rp.unit_text(PYTHON))
    assert ops[3] == dict(op='enable', lab='web')


def test_nothing_to_do_when_everything_is_as_wanted():
    assert rp.plan_restore(current(declaration='{"the": "declaration"}\n', code=CODE, template=rp.unit_text(PYTHON),
                                   template_ours=True, enabled=True), wanted(), 'web') == []


def test_a_changed_lab_rewrites_only_its_declaration():
    found = current(declaration='{"old": 1}\n', code=CODE, template=rp.unit_text(PYTHON), template_ours=True,
                    enabled=True, other_labs=['db'])
    assert rp.plan_restore(found, wanted(), 'web') == [
        dict(op='write_declaration', lab='web', text='{"the": "declaration"}\n')]


def test_new_code_is_written_with_its_declaration():
    found = current(declaration='{"old": 1}\n', code='sha256:old', template=rp.unit_text(PYTHON), template_ours=True,
                    enabled=True)
    assert names(rp.plan_restore(found, wanted(), 'web')) == ['write_code', 'write_declaration']


def test_a_changed_template_is_rewritten_and_systemd_reloaded():
    found = current(declaration='{"the": "declaration"}\n', code=CODE, template=rp.unit_text('/usr/bin/python3.9'),
                    template_ours=True, enabled=True)
    assert rp.plan_restore(found, wanted(), 'web') == [
        dict(op='write_template', text=rp.unit_text(PYTHON)), dict(op='daemon_reload')]


def test_a_lab_whose_link_was_removed_is_enabled_again_without_a_reload():
    found = current(declaration='{"the": "declaration"}\n', code=CODE, template=rp.unit_text(PYTHON),
                    template_ours=True)
    assert rp.plan_restore(found, wanted(), 'web') == [dict(op='enable', lab='web')]


def test_removal_disables_first_and_the_last_lab_takes_its_template_with_it():
    found = current(declaration='{}', code=CODE, template=rp.unit_text(PYTHON), template_ours=True, enabled=True)
    assert rp.plan_restore(found, None, 'web') == [
        dict(op='disable', lab='web'), dict(op='remove_declaration', lab='web'), dict(op='remove_code', lab='web'),
        dict(op='remove_template'), dict(op='daemon_reload')]


def test_removal_leaves_the_template_to_the_other_labs():
    found = current(declaration='{}', code=CODE, template=rp.unit_text(PYTHON), template_ours=True, enabled=True,
                    other_labs=['db'])
    assert names(rp.plan_restore(found, None, 'web')) == ['disable', 'remove_declaration', 'remove_code']


def test_removal_never_removes_a_template_someone_else_wrote():
    found = current(declaration='{}', code=CODE, template='[Unit]\n', template_ours=False, enabled=True)
    assert names(rp.plan_restore(found, None, 'web')) == ['disable', 'remove_declaration', 'remove_code']


def test_removal_removes_what_is_left_of_a_half_stored_lab_and_nothing_when_nothing_is_stored():
    assert names(rp.plan_restore(current(code=CODE), None, 'web')) == ['remove_code']
    assert names(rp.plan_restore(current(enabled=True), None, 'web')) == ['disable']
    assert rp.plan_restore(current(), None, 'web') == []


def test_a_foreign_template_is_named_with_the_way_out():
    assert rp.foreign_template(current()) is None
    assert rp.foreign_template(current(template=rp.unit_text(PYTHON), template_ours=True)) is None
    message = rp.foreign_template(current(template='[Unit]\n', template_ours=False))
    assert message == ('/etc/systemd/system/nslab-restore@.service exists and was not written by nslab.net; the lab '
                       'will not replace it (remove it, or set lab_restore_at_boot: false)')


def test_describe_shows_the_unit_and_what_is_stored():
    assert rp.describe(current(declaration='{}', code=CODE, enabled=True), 'web') == dict(
        unit='nslab-restore@web.service', enabled=True, declaration=True, code=CODE)
    assert rp.describe(current(), 'web') == dict(unit='nslab-restore@web.service', enabled=False, declaration=False,
                                                 code=None)


# The names at boot.

NAMED = dict(name='web', dns=['192.0.2.53'], dns_search=['lab.example'], extra_hosts=['gw:10.0.0.254'], namespaces=[
    dict(name='ns1', dns=['198.51.100.53', '198.51.100.54'], dns_search=['ns1.example'],
         extra_hosts=['api:10.0.0.9', 'v6:2001:db8::1', 'br6:[2001:db8::2]']),
    dict(name='ns2', extra_hosts=['db:10.0.0.10']),
    dict(name='plain')])


def name_settings(spec):
    return {ns['name']: (ns['dns'], ns['dns_search'], ns['extra_hosts']) for ns in spec['namespaces']}


def test_the_declaration_keeps_each_namespaces_names_and_only_those_it_has():
    stored_args = arguments(stored(NAMED, HOST))
    ns1, ns2, plain = stored_args['namespaces']
    assert (ns1['dns'], ns1['dns_search'], ns1['extra_hosts']) == (
        ['198.51.100.53', '198.51.100.54'], ['ns1.example'], ['api:10.0.0.9', 'v6:2001:db8::1', 'br6:2001:db8::2'])
    assert ns2['extra_hosts'] == ['db:10.0.0.10'] and 'dns' not in ns2 and 'dns_search' not in ns2
    assert not set(plain) & {'dns', 'dns_search', 'extra_hosts'}
    # The lab's own are arguments like the others.
    assert (stored_args['names'], stored_args['dns'], stored_args['dns_search'], stored_args['extra_hosts']) == (
        True, ['192.0.2.53'], ['lab.example'], ['gw:10.0.0.254'])


def test_the_declared_names_fed_back_give_the_same_namespace_settings_and_the_same_text():
    params, spec, plan = build(NAMED, HOST)
    text = rp.declaration(params, spec, plan, CODE)
    at_boot = build(arguments(text), BOOTED)[1]
    assert name_settings(at_boot) == name_settings(spec)
    assert name_settings(at_boot)['ns1'] == (['198.51.100.53', '198.51.100.54'], ['ns1.example'], [
        ('api', '10.0.0.9'), ('v6', '2001:db8::1'), ('br6', '2001:db8::2')])
    assert at_boot['names'] == spec['names']
    assert stored(arguments(text), BOOTED) == text


def test_a_lab_without_names_keeps_names_false_at_boot():
    text = stored(dict(SEEDS, names=False), HOST)
    assert arguments(text)['names'] is False
    params, spec, plan = build(arguments(text), BOOTED)
    assert spec['names']['enabled'] is False and plan['names'] is None
