# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_network's restore step: store, refresh or remove the lab's restore files (see :mod:`plan`)."""


import sys
from typing import TYPE_CHECKING, Any, Dict, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._restore.adapter import (
    Paths, RestoreError, apply_restore, code_digest, command, read_restore, read_template, running_code)
from ansible_collections.nslab.net.plugins.module_utils._restore.plan import (
    declaration, describe, foreign_template, instance, plan_restore, unit_text)
from ansible_collections.nslab.net.plugins.module_utils._services.systemd import booted

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

NOT_SYSTEMD = 'systemd is not the init system here: nothing restores the lab at boot (re-run the playbook after a reboot)'


def restore_status(params: Dict[str, Any], state: str) -> Dict[str, Any]:
    """What the module returns as ``restore``, before the step runs."""
    lab = params['name']
    if not booted():
        return dict(at_boot=False, reason=NOT_SYSTEMD)
    if state == 'absent' or not params['restore_at_boot']:
        return dict(at_boot=False, reason='torn down' if state == 'absent' else 'restore_at_boot is false')
    paths = Paths()
    return dict(at_boot=True, unit=instance(lab), declaration=paths.declaration(lab), code=paths.code(lab))


def restore_problem(params: Dict[str, Any], state: str, paths: Optional[Paths] = None) -> Optional[str]:
    """Why the restore files cannot be stored (found in the preflight, before any change)."""
    if state != 'present' or not params['restore_at_boot'] or not booted():
        return None
    try:
        # The template alone: the step reads (and digests) the rest once, after the build.
        return foreign_template(read_template(paths or Paths(), params['name']))
    except RestoreError as exc:
        return str(exc)


def converge_restore(module: 'AnsibleModule', params: Dict[str, Any], spec: Dict[str, Any],
                     plan: Optional[Dict[str, Any]], paths: Optional[Paths] = None) -> Dict[str, Any]:
    """Store the declaration of a lab just built (``plan``), or remove it (``plan`` None).

    Runs only where systemd is init: elsewhere nothing would run the files.
    """
    lab = params['name']
    paths = paths or Paths()
    if not booted():
        return dict(changed=False, commands=[], diff=dict(before={}, after={}))
    try:
        current = read_restore(paths, lab)
        source = running_code()
        wanted = None
        if plan is not None:
            if source is None:
                raise RestoreError('the module does not run from an AnsiballZ zip, so it has no code to store')
            code = code_digest(source)
            # The interpreter running this: the one the role installed pyroute2 for.
            wanted = dict(declaration=declaration(params, spec, plan, code), code=code, template=unit_text(sys.executable))
        ops = plan_restore(current, wanted, lab)
    except RestoreError as exc:
        raise TaskFailed('restore at boot: %s' % exc, changed=False)
    if ops and not module.check_mode:
        try:
            apply_restore(paths, ops, source, module.run_command, module.get_bin_path('systemctl'))
        except RestoreError as exc:
            raise TaskFailed('restore at boot: %s' % exc, changed=True, commands=[command(paths, op) for op in ops])
    after = dict(describe(current, lab), enabled=plan is not None, declaration=plan is not None,
                 code=wanted['code'] if wanted else None)
    return dict(changed=bool(ops), commands=[command(paths, op) for op in ops],
                diff=dict(before=describe(current, lab), after=after))
