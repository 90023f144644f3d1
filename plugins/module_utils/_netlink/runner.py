# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every netlink module runs in: parse, read, plan, apply (unless check mode), report.

Each netlink module has a file of its own (:mod:`netns_task`, :mod:`bridge_task`,
:mod:`veth_task`) with two functions: ``*_spec(params)`` parses its arguments into a spec
(raising TaskFailed with every problem), and ``converge_*(module, netlink, spec)`` makes the
kernel match it through :func:`run_netlink` and returns the result. The modules run both
through ``_common/results.run_module``, the converge function wrapped by ``session.in_netlink``;
nslab.net.lab_network, which runs them all in one process with one Netlink, builds the same
specs from its plan.

Arguments are parsed before any of this reads, so a bad task never opens a socket. The
diff's ``after`` is a re-read of the kernel after a real run and a simulation of the plan in
check mode; both go through the module's own report function.
"""


from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._netlink.announce import announce, announced
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import simulate_links
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink, StepFailed
from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.results import task_result

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView, Step


def run_netlink(netlink: Netlink, check_mode: bool, result_key: str, namespaces: Iterable[Optional[str]],
                plan: Callable[[Dict[Optional[str], 'NamespaceView'], Dict[Tuple[Optional[str], Optional[str]], Optional[int]]],
                               Tuple[List['Step'], List[str]]],
                report: Callable[[Dict[Optional[str], 'NamespaceView']], List[Any]],
                nsid_keys: Iterable[Tuple[Optional[str], Optional[str]]] = (), links_only: bool = False,
                warn: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Read ``namespaces`` (names; None is the host's), plan, apply, report: the result dict.

    ``plan(views, nsids)`` returns ``(steps, problems)``; ``report(views)`` the managed
    objects as a list of dicts. ``links_only`` reads links but no addresses or routes. With
    ``warn`` (the module's), the IPv4 addresses the steps add in namespaces are announced to
    the neighbours (see :mod:`announce`), and what could not be is a warning.
    """
    namespaces = list(namespaces)
    views = netlink.read_views(namespaces, links_only)
    steps, problems = plan(views, netlink.nsids(nsid_keys))
    if problems:
        raise TaskFailed('; '.join(problems), problems=problems, changed=False)
    commands = [step.as_command() for step in steps]
    before = report(views)
    if check_mode or not steps:
        after = report(simulate_links(views, steps))
    else:
        try:
            netlink.apply(steps)
        except StepFailed as exc:
            raise TaskFailed(str(exc), changed=bool(exc.done), commands=commands,
                             applied=[step.as_command() for step in exc.done])
        if warn is not None:
            for failure in announce(netlink, announced(steps)):
                warn('could not announce %s to the neighbours (they learn it when their entry ages out)' % failure)
        after = report(netlink.read_views(namespaces, links_only))
    return task_result(bool(steps), commands, {result_key: before}, {result_key: after})
