# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``nslab-restore@NAME.service`` runs at boot: lab_network, on the stored declaration.

``python3 NAME.pyz NAME.json`` runs the stored code's ``__main__``, which calls :func:`main`.
It runs the module exactly as Ansible would, reading its arguments from the declaration (the
way a module reads them when run by hand, which ansible-core 2.15 to 2.19 all support), and
turns the module's JSON result into lines a person reads in ``systemctl status`` and the
journal: what was restored, or why not. The exit status is the module's, so a failed restore
shows as a failed unit; it never blocks the boot, since nothing requires the unit.
"""


import json
import os
import runpy
import sys
import tempfile
import traceback
import zipfile
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

MODULE = 'ansible_collections.nslab.net.plugins.modules.lab_network'
ZIPAPP_MAIN = ('import sys\n'
               'from ansible_collections.nslab.net.plugins.module_utils._restore.boot import main\n'
               'sys.exit(main())\n')


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    """The restore's exit status (the zip's ``__main__`` exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        out.write('usage: python3 NAME.pyz NAME.json (the unit nslab-restore@NAME.service runs it)\n')
        return 2
    lab, problem = _check(argv[0], sys.path[0] if sys.path else '')
    if problem:
        out.write('lab %s not restored: %s\n' % (lab, problem))
        return 1
    status, result = _run_module(argv[0], sys.path[0])
    if result.get('failed') and status == 0:
        status = 1
    lines = report(lab, result, status)
    out.write(''.join(line + '\n' for line in lines))
    out.flush()
    return status


def _check(declaration_path: str, code_path: str) -> Tuple[str, Optional[str]]:
    """The lab's name, and why the declaration and the code beside it do not belong together.

    A run writes the code before the declaration that names it: one killed in between leaves
    the new code with the previous declaration, which the new code may read otherwise.
    """
    from ansible_collections.nslab.net.plugins.module_utils._restore.adapter import code_digest
    lab = os.path.basename(declaration_path).rsplit('.', 1)[0]
    try:
        with open(declaration_path) as handle:
            stored = json.load(handle)['nslab']
        lab, declared = stored['lab'], stored['code']
        found = code_digest(code_path)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipfile) as exc:
        return lab, 'cannot read %s with %s: %s' % (declaration_path, code_path, exc)
    if declared != found:
        return lab, ('%s was written for other code than %s (a run was interrupted between the two); run the '
                     'playbook to rebuild the lab and store both again' % (declaration_path, code_path))
    return lab, None


def _run_module(declaration_path: str, code_path: str) -> Tuple[int, Dict[str, Any]]:
    """Run lab_network in this process with the declaration as its arguments file.

    Its result is caught on file descriptor 1, not only sys.stdout: a module that respawns
    under the Python that has pyroute2 prints it from a child process.
    """
    saved_argv = sys.argv
    sys.argv = [MODULE, declaration_path]
    status = 0
    with tempfile.TemporaryFile() as captured:
        sys.stdout.flush()
        saved_stdout = os.dup(1)
        os.dup2(captured.fileno(), 1)
        try:
            # The globals AnsiballZ gives a module: respawning under another Python needs them.
            runpy.run_module(MODULE, init_globals=dict(_module_fqn=MODULE, _modlib_path=code_path),
                             run_name='__main__', alter_sys=True)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # pylint: disable=broad-except  # the journal must say why
            # Under Ansible the AnsiballZ wrapper turns a crash into a failed result; here we
            # do, and the traceback goes to the journal through stderr.
            traceback.print_exc()
            sys.stdout.flush()
            os.write(1, ('\n' + json.dumps(dict(failed=True, msg='lab_network crashed: %s: %s'
                                                % (type(exc).__name__, exc))) + '\n').encode('utf-8'))
            status = 1
        finally:
            sys.stdout.flush()
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)
            sys.argv = saved_argv
        captured.seek(0)
        text = captured.read().decode('utf-8', 'replace')
    return status, _result(text)


def _result(text: str) -> Dict[str, Any]:
    """The module's JSON result: its last line that parses as an object."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return dict(failed=True, msg='the module printed no result: %s' % (text.strip()[-2000:] or '(nothing)'))


def report(lab: str, result: Dict[str, Any], status: int) -> List[str]:
    """The lines the journal shows for a restore of ``lab`` that ended with ``result``."""
    plan = result.get('plan') or {}
    if status != 0 or result.get('failed'):
        lines = ['lab %s not restored: %s' % (lab, result.get('msg') or 'lab_network failed (exit status %d)' % status)]
        if result.get('failed_step'):
            lines.append('failed at step %s; the commands done before it:' % result['failed_step'])
            lines += ['  ' + command for command in result.get('commands') or []]
        return lines
    totals = '%d namespaces, %d published ports, %d services' % (
        len(plan.get('netns') or []), sum(len(p.get('ports') or []) for p in plan.get('publish') or []),
        len(plan.get('services') or []))
    if not result.get('changed'):
        return ['lab %s is already as declared (%s): nothing to do' % (lab, totals)]
    commands = result.get('commands') or []
    lines = ['restored lab %s: %s, in %d commands:' % (lab, totals, len(commands))]
    lines += ['  ' + command for command in commands]
    lines += ['warning: %s' % _warning_text(warning) for warning in result.get('warnings') or []]
    return lines


def _warning_text(warning: Any) -> str:
    """A module warning as text: ansible-core 2.19 returns each as a dict with its event."""
    if isinstance(warning, dict):
        event = warning.get('event') or {}
        return str(event.get('msg') or warning.get('msg') or warning)
    return str(warning)
