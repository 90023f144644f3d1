# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's YAML schema and the module's documentation say what _lab/schema.py says."""

import importlib
import os
import re

import pytest
import yaml

from ansible_collections.nslab.net.plugins.module_utils._lab import schema
from ansible_collections.nslab.net.plugins.modules import lab_network

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *['..'] * 5))
ROLE = os.path.join(ROOT, 'roles', 'lab')
#: What the role has and the module does not: the role's own work around the module.
ROLE_ONLY = {'install_packages', 'show_summary', 'diagram', 'diagram_path', 'overlay_address'}
#: What the module has and the role does not: the action plugin's, set by the role itself.
#: The role's diagram path is a template (``lab_diagram`` decides whether it is passed).
MODULE_ONLY = {'reuse_result', 'diagram_path'}
#: The role's lab_overlay holds the user's part of the module's overlay (the rest, the
#: underlay address and the peers, the role and the controller fill in).
ROLE_OVERLAY = {'vni', 'port'}
KEYS = ('type', 'elements', 'choices', 'default', 'required')


def _load(name):
    with open(os.path.join(ROLE, name)) as handle:
        return yaml.safe_load(handle)


def _role_options():
    return _load('meta/argument_specs.yml')['argument_specs']['main']['options']


def _fields(option):
    fields = {key: option.get(key) for key in KEYS}
    fields['choices'] = sorted(fields['choices'] or []) or None
    fields['required'] = bool(fields['required'])
    if fields['type'] == 'list' and fields['default'] == []:
        fields['default'] = None  # a list left out is an empty list either way
    return fields


def _compare(role, module, where):
    problems = []
    for name in sorted(set(role) | set(module)):
        if name not in role or name not in module:
            problems.append('%s%s: only in the %s' % (where, name, 'role' if name in role else 'module'))
            continue
        if _fields(role[name]) != _fields(module[name]):
            problems.append('%s%s: role %s, module %s' % (where, name, _fields(role[name]), _fields(module[name])))
    return problems


def test_the_roles_options_are_the_modules():
    role = {name[len('lab_'):]: option for name, option in _role_options().items()}
    module = dict(schema.LAB_OPTIONS)
    role_overlay, module_overlay = role.pop('overlay'), module.pop('overlay')
    for name in ROLE_ONLY:
        role.pop(name)
    for name in MODULE_ONLY:
        module.pop(name)
    problems = _compare(role, module, 'lab_')
    # The role's lab_overlay is {} when there is no overlay, so it cannot require vni: the
    # module's overlay, given only with one, can.
    overlay = {key: dict(value, required=False) for key, value in module_overlay['options'].items()
               if key in ROLE_OVERLAY}
    problems += _compare(role_overlay['options'], overlay, 'lab_overlay.')
    assert problems == []


@pytest.mark.parametrize('variable', sorted(schema.SUBOPTIONS))
def test_the_roles_items_are_the_modules(variable):
    role = _role_options()['lab_' + variable]['options']
    assert _compare(role, schema.SUBOPTIONS[variable], 'lab_%s[].' % variable) == []


def test_the_roles_defaults_are_the_modules():
    defaults = _load('defaults/main.yml')
    problems = []
    for name, option in schema.LAB_OPTIONS.items():
        if 'default' in option and 'lab_' + name in defaults and name != 'overlay':
            if defaults['lab_' + name] != option['default']:
                problems.append('lab_%s: %r, module %r' % (name, defaults['lab_' + name], option['default']))
    assert problems == []


def test_the_module_documents_every_key_of_a_namespace():
    documented = yaml.safe_load(lab_network.DOCUMENTATION)['options']['namespaces']['description']
    named = set(re.findall(r'C\((\w+)\)', ' '.join(documented)))
    assert set(schema.NAMESPACE_KEYS) - named == set()


def _module_documentation():
    """The module's options, with the collection's fragments merged in as ansible-doc does."""
    doc = yaml.safe_load(lab_network.DOCUMENTATION)
    options = {}
    for fragment in doc.get('extends_documentation_fragment') or []:
        name, unused, variable = fragment[len('nslab.net.'):].partition('.')
        module = importlib.import_module('ansible_collections.nslab.net.plugins.doc_fragments.' + name)
        text = getattr(module.ModuleDocFragment, variable or 'DOCUMENTATION')
        for option, fields in (yaml.safe_load(text).get('options') or {}).items():
            options[option] = dict(options.get(option) or {}, **fields)
    for option, fields in doc['options'].items():
        options[option] = dict(options.get(option) or {}, **fields)
    return options


def test_the_modules_documentation_has_its_defaults():
    documented = _module_documentation()
    assert {name: documented[name].get('default') for name in schema.LAB_OPTIONS} == {
        name: option.get('default') for name, option in schema.LAB_OPTIONS.items()}
