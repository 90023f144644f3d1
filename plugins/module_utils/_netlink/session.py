# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A netlink module's own session: pyroute2 found (or the module respawned), then one Netlink.

Apart from :mod:`runner` so that nslab.net.netns_info, which plans nothing, does not carry
the planning flow and the neighbour announcements in its payload.
"""


from typing import TYPE_CHECKING, Any, Callable, Dict

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.interpreter import lacking, respawn_with
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import PYROUTE2_IMPORT_ERROR, Netlink

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def require_pyroute2() -> None:
    """Respawn under a system Python that has pyroute2 when this one lacks it, else fail
    naming this interpreter."""
    if PYROUTE2_IMPORT_ERROR:
        respawn_with('pyroute2')
        raise TaskFailed('%s. %s' % (lacking(['pyroute2']), missing_required_lib('pyroute2')),
                         exception=PYROUTE2_IMPORT_ERROR)


def in_netlink(converge: Callable[['AnsibleModule', Netlink, Any], Dict[str, Any]]
               ) -> Callable[['AnsibleModule', Any], Dict[str, Any]]:
    """``converge(module, netlink, spec)`` as a module runs it, ``(module, spec)``: once pyroute2
    is found, in a Netlink of its own. The lab passes its one Netlink to the same functions."""
    def converge_in_netlink(module: 'AnsibleModule', spec: Any) -> Dict[str, Any]:
        require_pyroute2()
        with Netlink() as netlink:
            return converge(module, netlink, spec)
    return converge_in_netlink
