# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of nslab.net.lab_network.

Before the host is touched: the lab is checked as a whole, so bad variables fail without a
connection. After the module ran: the lab is described (``summary``) and, with
``diagram_path``, drawn as a Mermaid diagram on the controller, where the user reads it (a
relative path is taken from the directory ansible-playbook runs in); a teardown removes it.
Doing both here instead of in tasks of their own saves a copy task (~0.8 s) per run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.nslab.net.plugins.module_utils._lab.plan import LAB_ARGS, lab_spec, lab_variables, network_subnets
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.plugin_utils.overlay_members import overlay_peers
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import (
    DEFAULT_NAME, diagram_location, lab_diagram, lab_summary)
from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import write_atomically


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(LAB_ARGS['argument_spec'])

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        unused, checked = self.validate_argument_spec(**LAB_ARGS)
        module_args = dict(self._task.args)
        try:
            if checked['overlay'] and 'peers' not in (module_args.get('overlay') or {}) and checked['state'] == 'present':
                checked['overlay']['peers'] = self._overlay_peers(checked, task_vars)
                module_args['overlay'] = dict(module_args['overlay'], peers=checked['overlay']['peers'])
            lab_spec(lab_variables(checked))
        except InvalidInput as exc:
            result.update(failed=True, changed=False, problems=exc.problems,
                          msg='the lab is not valid: %s' % '; '.join(exc.problems))
            return result
        module_args.pop('diagram_path', None)
        result.update(self._execute_module(module_name='nslab.net.lab_network', module_args=module_args,
                                           task_vars=task_vars))
        if result.get('failed') or result.get('skipped') or 'plan' not in result:
            return result
        result['summary'] = lab_summary(result['plan'], result['host_state'], result.get('backend'),
                                        checked.get('name') or DEFAULT_NAME, result.get('restore'))
        if checked['diagram_path'] and not self._task.check_mode:
            _report_diagram(result, checked['diagram_path'], task_vars.get('inventory_hostname', 'host'))
        return result

    @staticmethod
    def _overlay_peers(checked, task_vars):
        """The other hosts of the overlay, from the inventory (see overlay_members)."""
        hostvars = task_vars.get('hostvars') or {}
        return overlay_peers(task_vars.get('inventory_hostname', 'localhost'), network_subnets(lab_variables(checked)),
                             checked['overlay'], checked['name'], (task_vars.get('groups') or {}).get('all') or [],
                             lambda host: hostvars[host])


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
            _remove_file(path)
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


def _remove_file(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
