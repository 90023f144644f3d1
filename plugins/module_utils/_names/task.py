# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_network's names step: write the namespaces' name files, remove the lab's others."""


import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.results import task_result
from ansible_collections.nslab.net.plugins.module_utils._names.adapter import (
    NamesError, apply_names, commands, missing_directories, read_name_files)
from ansible_collections.nslab.net.plugins.module_utils._names.directories import lab_made, stamped
from ansible_collections.nslab.net.plugins.module_utils._names.plan import describe_files, names_problems, owner, plan_names

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def converge_names(module: 'AnsibleModule', spec: Dict[str, Any], current: Optional[Dict[str, Optional[str]]] = None
                   ) -> Dict[str, Any]:
    """Make the lab's name files under ``spec['directory']`` exactly ``spec['files']``
    (``{path: text}``; empty for a removal), each remembering the directories the lab made;
    ``current``: what the directory holds, when the caller read it already."""
    lab, wanted, directory = spec['lab'], spec['files'], spec['directory']
    try:
        current = read_name_files(directory) if current is None else current
    except NamesError as exc:
        raise TaskFailed(str(exc), changed=False)
    problems = names_problems(lab, list(wanted), current)
    if problems:
        # The preflight found these already, unless someone wrote the files since.
        raise TaskFailed('; '.join(problems), problems=problems, changed=False)
    ours = [path for path, text in current.items() if owner(text) == lab]
    needed = set([directory] + [os.path.dirname(path) for path in wanted]) if wanted else set()
    made = lab_made(current, ours, missing_directories(needed), directory,
                    [path for path, text in current.items() if owner(text)])
    wanted = stamped(wanted, made, directory)
    ops = plan_names(lab, wanted, current, directory, made)
    if ops and not module.check_mode:
        try:
            apply_names(ops)
        except NamesError as exc:
            raise TaskFailed(str(exc), changed=True, commands=commands(ops))
    before = describe_files(current, lab)
    return task_result(ops, commands(ops), dict(files=before), dict(files=dict(wanted)))
