# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of nslab.net.lab_network.

Before the host is touched: the lab is checked as a whole, so bad variables fail without a
connection. After the module ran: the lab is described (``summary``) and, with
``diagram_path``, drawn as a Mermaid diagram on the controller, where the user reads it.
Doing both here instead of in tasks of their own saves a copy task (~0.8 s) per run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.nslab.net.plugins.module_utils.lab_planning import LAB_ARGS, lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils.task_arguments import InvalidInput
from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import lab_diagram, lab_summary


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(LAB_ARGS['argument_spec'])

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        unused, checked = self.validate_argument_spec(**LAB_ARGS)
        try:
            lab_spec(lab_variables(checked))
        except InvalidInput as exc:
            result.update(failed=True, changed=False, problems=exc.problems,
                          msg='the lab is not valid: %s' % '; '.join(exc.problems))
            return result
        module_args = dict(self._task.args)
        module_args.pop('diagram_path', None)
        result.update(self._execute_module(module_name='nslab.net.lab_network', module_args=module_args,
                                           task_vars=task_vars))
        if result.get('failed') or result.get('skipped') or 'plan' not in result:
            return result
        result['summary'] = lab_summary(result['plan'], result['host_state'], result.get('backend'))
        if checked['diagram_path'] and result['plan']['state'] == 'present':
            text = lab_diagram(result['summary'], task_vars.get('inventory_hostname', 'host'))
            try:
                written = self._write_diagram(checked['diagram_path'], text)
            except (IOError, OSError) as exc:
                result.update(failed=True, msg='could not write the diagram %s: %s'
                              % (checked['diagram_path'], to_native(exc)))
                return result
            result['diagram'] = checked['diagram_path']
            result['changed'] = result.get('changed', False) or written
        return result

    def _write_diagram(self, path, text):
        """Write ``text`` to ``path`` unless it holds it already; whether it changed (would, in check mode)."""
        data = to_bytes(text)
        try:
            with open(path, 'rb') as current:
                if current.read() == data:
                    return False
        except (IOError, OSError):
            pass
        if self._task.check_mode:
            return True
        directory = os.path.dirname(os.path.abspath(path))
        fd, temporary = tempfile.mkstemp(dir=directory, prefix='.lab-diagram-')
        try:
            with os.fdopen(fd, 'wb') as out:
                out.write(data)
            os.chmod(temporary, 0o644)
            os.rename(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        return True
