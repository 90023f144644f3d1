# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlay step of nslab.net.lab_network: its device and its rules, converged.

Building, the rules go first, so the device never carries traffic its rules do not guard;
removing, the device goes first, then its rules.
"""


from typing import TYPE_CHECKING, Any, Dict, Mapping

from ansible_collections.nslab.net.plugins.module_utils._common.results import task_result
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import FirewallTask
from ansible_collections.nslab.net.plugins.module_utils._firewall.runner import run_firewall
from ansible_collections.nslab.net.plugins.module_utils._overlay.adapter import apply_steps, read_device
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import (
    describe_device, overlay_owner, overlay_rules, plan_overlay, simulate_overlay)

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def _device(module: 'AnsibleModule', spec: Mapping[str, Any], device: str) -> Dict[str, Any]:
    current = read_device(module, device)
    layout = spec['layout'] if spec['state'] == 'present' else None
    steps = plan_overlay(layout, current, device)
    if steps and not module.check_mode:
        apply_steps(module, steps)
    after = simulate_overlay(layout) if steps else current
    return task_result(bool(steps), [' '.join(step) for step in steps], dict(device=describe_device(current)),
                       dict(device=describe_device(after)))


def _rules(module: 'AnsibleModule', spec: Mapping[str, Any], device: str) -> Dict[str, Any]:
    owner = overlay_owner(device)
    if spec['state'] == 'present':
        rules = overlay_rules(spec['layout'], spec['bridges'])
        return run_firewall(module, spec['backend'], lambda current: FirewallTask(owners=[owner], rules=rules))
    return run_firewall(module, spec['backend'], lambda current: FirewallTask(owners=[owner]))


def converge_overlay(module: 'AnsibleModule', spec: Mapping[str, Any]) -> Dict[str, Any]:
    """``spec``: ``state``, ``devices`` (the one built, or those removed), ``layout`` (the
    plan's overlay), ``bridges`` (every lab bridge) and ``backend``."""
    parts = [_rules, _device] if spec['state'] == 'present' else [_device, _rules]
    results = [part(module, spec, device) for device in spec['devices'] for part in parts]
    before: Dict[str, Any] = {}
    after: Dict[str, Any] = {}
    for result in results:
        before.update(result['diff']['before'])
        after.update(result['diff']['after'])
    return task_result(any(result['changed'] for result in results),
                       [command for result in results for command in result['commands']], before, after)
