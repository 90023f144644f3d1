# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of nslab.net.lab_network.

Before the host is touched: the lab is checked as a whole, so bad variables fail without a
connection. After the module ran: the lab is described (``summary``) and, with
``diagram_path``, drawn as a Mermaid diagram on the controller, where the user reads it (a
relative path is taken from the directory ansible-playbook runs in); a teardown removes it.
Doing both here instead of in tasks of their own saves a copy task (~0.8 s) per run.

With an overlay, each peer's namespaces come from its registered result of this lab earlier in
the play (see overlay_members). The role runs the lab a second time, once every host has run it,
with ``reuse_result``: where this host's own result of that first run used the same arguments
and the same namespaces of every peer this run knows, the module is not run again, and that
result is returned unchanged (a steady-state run then costs one task on the controller, no
connection to the host).
"""


import hashlib
import json
import os

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.nslab.net.plugins.module_utils._lab.schema import DEFAULT_NAME, LAB_ARGS
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec, lab_variables, network_subnets
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.plugin_utils.overlay_members import REGISTER, overlay_peers
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import diagram_location, lab_diagram, lab_summary
from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file, write_atomically


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(LAB_ARGS['argument_spec'])

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        unused, checked = self.validate_argument_spec(**LAB_ARGS)
        module_args = dict(self._task.args)
        register = registered_name(self._task.register)
        try:
            if checked['overlay'] and 'peers' not in (module_args.get('overlay') or {}) and checked['state'] == 'present':
                checked['overlay']['peers'] = self._overlay_peers(checked, task_vars, register)
                module_args['overlay'] = dict(module_args['overlay'], peers=checked['overlay']['peers'])
            lab_spec(lab_variables(checked))
        except InvalidInput as exc:
            result.update(failed=True, changed=False, problems=exc.problems,
                          msg='the lab is not valid: %s' % '; '.join(exc.problems))
            return result
        digest = arguments_digest(checked, self._play_context.check_mode)
        if checked['reuse_result']:
            previous = reusable(task_vars.get(register), digest, checked)
            if previous is not None:
                result.update(previous)
                return result
        module_args.pop('diagram_path', None)
        module_args.pop('reuse_result', None)
        result.update(self._execute_module(module_name='nslab.net.lab_network', module_args=module_args,
                                           task_vars=task_vars))
        if result.get('failed') or result.get('skipped') or 'plan' not in result:
            return result
        result['arguments'] = digest
        result['summary'] = lab_summary(result['plan'], result['host_state'], result.get('backend'),
                                        checked.get('name') or DEFAULT_NAME, result.get('restore'))
        if checked['diagram_path'] and not self._task.check_mode:
            _report_diagram(result, checked['diagram_path'], task_vars.get('inventory_hostname', 'host'))
        return result

    @staticmethod
    def _overlay_peers(checked, task_vars, register):
        """The other hosts of the overlay, from the inventory (see overlay_members)."""
        hostvars = task_vars.get('hostvars') or {}

        def result_of(host):
            # The registered result as it was stored: hostvars[host][register] would template
            # every value of it (each peer's plan and host_state), for nothing.
            raw = hostvars.raw_get(host) if hasattr(hostvars, 'raw_get') else hostvars[host]
            return raw.get(register) if hasattr(raw, 'get') else None

        return overlay_peers(task_vars.get('inventory_hostname', 'localhost'), network_subnets(lab_variables(checked)),
                             checked['overlay'], checked['name'], (task_vars.get('groups') or {}).get('all') or [],
                             lambda host: hostvars[host], register, result_of)


#: What a result reused by ``reuse_result`` does not repeat: it did its work, and said so, already.
_NOT_REUSED = ('changed', 'commands', 'steps', 'diff', 'warnings', 'deprecations', 'invocation', 'msg')


def registered_name(register):
    """The variable a task's ``register`` stores its whole result in (the role's, by default).

    ansible-core 2.22 keeps ``register: NAME`` as a projection, ``{NAME: expression}``; a
    projection of several variables stores no whole result under one name the action knows.
    """
    if isinstance(register, dict):
        return next(iter(register)) if len(register) == 1 else REGISTER
    return register or REGISTER


def arguments_digest(checked, check_mode):
    """What tells two runs of the lab apart but for the peers' namespaces: the validated
    arguments without those, nor what concerns the controller alone."""
    args = {key: value for key, value in checked.items() if key not in ('diagram_path', 'reuse_result')}
    if args.get('overlay'):
        args['overlay'] = dict(args['overlay'], peers=[
            {key: value for key, value in peer.items() if key != 'namespaces'}
            for peer in args['overlay'].get('peers') or []])
    text = json.dumps(dict(args=args, check_mode=bool(check_mode)), sort_keys=True, default=str)
    return 'sha256:' + hashlib.sha256(to_bytes(text)).hexdigest()


def reusable(previous, digest, checked):
    """``previous`` (this host's result of the lab earlier in the play), as this run returns it
    without running the module, or None where the module must run: the result of a build with
    the same arguments (``digest``) that used, for every peer this run gives namespaces for,
    exactly those namespaces."""
    if not isinstance(previous, dict) or previous.get('failed') or previous.get('skipped'):
        return None
    plan = previous.get('plan')
    if previous.get('arguments') != digest or not isinstance(plan, dict) or not isinstance(plan.get('overlay'), dict):
        return None
    used = {peer.get('name'): peer.get('namespaces') for peer in plan['overlay'].get('peers') or []}
    for peer in (checked.get('overlay') or {}).get('peers') or []:
        if peer.get('namespaces') is not None and not _same_namespaces(peer['namespaces'], used.get(peer['name'])):
            return None
    reused = {key: value for key, value in previous.items() if key not in _NOT_REUSED and not key.startswith('_')}
    reused.update(changed=False, commands=[], steps=[])
    return reused


def _same_namespaces(given, used):
    """Whether two lists of namespaces are the same, in the same order (the hosts files' order)."""
    def key(ns):
        return (str(ns.get('name')), str(ns.get('network')), str(ns.get('address')))
    return used is not None and [key(ns) for ns in given] == [key(ns) for ns in used]


def _report_diagram(result, path, host):
    """Write the diagram of a lab that is present, remove that of one torn down.

    The diagram is a report on the controller, not state of the host: it never makes the
    task changed, and a failure to write or remove it is a warning, not a failure of a lab
    that was built (or torn down) as asked.
    """
    try:
        path = diagram_location(path, os.getcwd())
        if result['plan']['state'] == 'present':
            _write_file(path, to_bytes(lab_diagram(result['summary'], host)))
            result['diagram'] = path
        else:
            remove_file(path)
    except OSError as exc:
        result.setdefault('warnings', []).append('could not %s the diagram %s: %s' % (
            'write' if result['plan']['state'] == 'present' else 'remove', path, to_native(exc)))


def _write_file(path, data):
    """Write ``data`` to ``path`` atomically, unless it holds it already."""
    try:
        with open(path, 'rb') as current:
            if current.read() == data:
                return
    except OSError:
        pass
    write_atomically(path, data)
