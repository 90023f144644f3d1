# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nat_masquerade's planning: a lab network's outbound NAT and forwarding rules, as data.

For a bridge and its subnet, Docker's bridge driver semantics:

- MASQUERADE what the subnet sends out of any other interface (or out of ``out_interface``),
  never what stays on the bridge and never multicast;
- forward the bridge's traffic out, and only replies (conntrack) back in;
- traffic between the bridge's own ports is accepted, or with ``icc: false`` dropped (that
  needs bridged traffic to pass iptables: ``net.bridge.bridge-nf-call-iptables``);
- nothing else may enter the bridge from outside: a neighbour that routes the subnet via
  this host reaches no port that was not published.
"""


from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Sequence

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import BACKEND_OPTION, FirewallTask
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import build, owner_comment
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import BRIDGE_NF_CALL_IPTABLES, IP_FORWARD
from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_subnet
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import firewall_interface_error
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule

MASQUERADE_KEYS = ('bridge', 'subnet', 'out_interface', 'icc', 'masquerade')
MULTICAST = '224.0.0.0/4'
REPLIES = ('conntrack', ('--ctstate', 'RELATED,ESTABLISHED'))


def parse_networks(items: Iterable[Mapping[str, Any]], state: str) -> List[Dict[str, Any]]:
    """Validated network dicts; raises InvalidInput listing every problem."""
    problems, networks = [], []
    for item in items:
        bridge = item.get('bridge')
        error = firewall_interface_error('bridge', bridge) if bridge is not None else 'bridge is required'
        if error:
            problems.append(error)
            continue
        network: Dict[str, Any] = dict(bridge=bridge, subnet=None, out_interface=item.get('out_interface'),
                                       icc=item.get('icc') is not False, masquerade=item.get('masquerade') is not False)
        if network['out_interface'] is not None:
            error = firewall_interface_error('bridge %s: out_interface' % bridge, network['out_interface'])
            if error:
                problems.append(error)
            elif network['out_interface'] == bridge:
                problems.append('bridge %s: out_interface must be another interface than the bridge' % bridge)
        if item.get('subnet') is not None:
            try:
                network['subnet'] = parse_subnet(item['subnet'], bridge)  # type: ignore[arg-type]  # bridge is not None: checked above
            except InvalidInput as exc:
                problems += exc.problems
        elif state == 'present':
            problems.append('bridge %s: subnet is required with state=present' % bridge)
        networks.append(network)
    problems += ['bridge %s is listed more than once' % name for name in duplicates(n['bridge'] for n in networks)]
    if problems:
        raise InvalidInput(problems)
    return networks


def network_rules(network: Mapping[str, Any]) -> List['Rule']:
    """The rules one network needs, commented with its owner."""
    bridge, out = network['bridge'], network['out_interface']
    owner = owner_comment('masquerade', bridge)
    rules = []
    if network.get('masquerade', True):
        rules.append(build('nat', 'NSLAB-POSTROUTING', 'MASQUERADE', src=network['subnet'], dst='!' + MULTICAST,
                           out_if=out or '!' + bridge, comment=owner))
    rules += [
        build('filter', 'NSLAB-INBOUND', 'ACCEPT', out_if=bridge, matches=[REPLIES], comment=owner),
        build('filter', 'NSLAB-ISOLATE', 'DROP', in_if='!' + bridge, out_if=bridge, comment=owner),
        build('filter', 'NSLAB-OUTBOUND', 'ACCEPT', in_if=bridge, out_if=out or '!' + bridge, comment=owner),
    ]
    if network['icc']:
        rules.append(build('filter', 'NSLAB-INBOUND', 'ACCEPT', in_if=bridge, out_if=bridge, comment=owner))
    else:
        rules.append(build('filter', 'NSLAB-ISOLATE', 'DROP', in_if=bridge, out_if=bridge, comment=owner))
    return rules


def masquerade_task(networks: Sequence[Mapping[str, Any]], state: str) -> FirewallTask:
    """The FirewallTask of a nat_masquerade run."""
    owners = [owner_comment('masquerade', network['bridge']) for network in networks]
    if state == 'absent':
        return FirewallTask(owners=owners)
    rules = []
    for network in networks:
        rules += network_rules(network)
    # Every network needs forwarding; bridged traffic through iptables only those with icc=false.
    sysctls = [(IP_FORWARD, 1)]
    holders = {IP_FORWARD: owners}
    required = []
    isolated = [owner for owner, network in zip(owners, networks) if not network['icc']]
    if isolated:
        sysctls.append((BRIDGE_NF_CALL_IPTABLES, 1))
        holders[BRIDGE_NF_CALL_IPTABLES] = isolated
        required.append((BRIDGE_NF_CALL_IPTABLES,
                         'icc=false needs bridged traffic to pass through iptables, which needs the'
                         ' br_netfilter kernel module: load it (modprobe br_netfilter) and run again'))
    return FirewallTask(owners=owners, rules=rules, sysctls=sysctls, required=required, holders=holders)


_NETWORK_OPTIONS = dict(
    bridge=dict(type='str'),
    subnet=dict(type='str'),
    out_interface=dict(type='str'),
    icc=dict(type='bool', default=True),
    masquerade=dict(type='bool', default=True),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
MASQUERADE_ARGS = dict(
    argument_spec=dict(
        _NETWORK_OPTIONS,
        networks=dict(type='list', elements='dict', options=dict(_NETWORK_OPTIONS, bridge=dict(type='str', required=True))),
        backend=BACKEND_OPTION,
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('bridge', 'networks')],
    mutually_exclusive=[('networks', key) for key in ('bridge', 'subnet', 'out_interface')],
)
