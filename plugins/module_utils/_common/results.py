# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every task returns, and how a module ends with it (:func:`run_module`).

A task's result names what it manages (``namespaces``, ``rules``, ``services``...) as it
is after the run (predicted in check mode), the same under ``diff`` before and after, the
equivalent shell ``commands`` of its changes, and ``changed``. Building it in one place
keeps the modules' return values alike, which the role and the lab's step list rely on.
"""


from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Mapping

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def task_result(changed: object, commands: Iterable[str], before: Mapping[str, Any], after: Mapping[str, Any], **managed: Any) -> Dict[str, Any]:
    """The result dict: ``before`` and ``after`` map each managed key to its value; the
    ``after`` values are also returned at the top level, with ``managed`` extras."""
    result = dict(changed=bool(changed), commands=list(commands),
                  diff=dict(before=dict(before), after=dict(after)))
    result.update(after)
    result.update(managed)
    return result


def run_module(module: 'AnsibleModule', parse: Callable[[Dict[str, Any]], Any],
               converge: Callable[['AnsibleModule', Any], Dict[str, Any]],
               diff_only_in_diff_mode: bool = False) -> None:
    """End ``module`` with ``converge(module, parse(module.params))``, or fail it with the
    TaskFailed either raises: every module's main() is this one call.

    What a module needs besides its arguments comes with its converge function (a netlink
    module's is wrapped by ``_netlink/session.in_netlink``), so this file imports no area and
    each payload carries only its own. ``diff_only_in_diff_mode`` drops the diff outside diff
    mode, for a module whose diff is most of its result.
    """
    try:
        result = converge(module, parse(module.params))
    except TaskFailed as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    if diff_only_in_diff_mode and not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)
