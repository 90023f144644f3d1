# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab at boot: what lab_network stores on the host so that systemd rebuilds the lab.

A reboot empties /run and the kernel, so the lab's namespaces, links, rules, runtime service
units and its record all go. After each successful run that builds the lab, the module stores
on the host, per lab:

- ``/var/lib/nslab/restore/NAME.pyz``: the module's own code, as Ansible sent it for that run
  (the AnsiballZ zip of lab_network and every module_utils it imports), plus a ``__main__``
  that runs it: the restore is the same code as the playbook's run, not a second
  implementation, and it needs no Ansible on the host;
- ``/var/lib/nslab/restore/NAME.json``: the declaration, the module arguments of that run in
  the form a module reads from a file (``{"ANSIBLE_MODULE_ARGS": ...}``), with every address
  the run allocated written in, so the lab comes back with the addresses it had;
- the template unit ``nslab-restore@.service`` and, to enable the instance ``nslab-restore@NAME``,
  its link in ``multi-user.target.wants``.

This file plans those files as data; :mod:`adapter` reads and writes them.
"""


import json
from typing import Any, Dict, List, Optional

from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import ports_by_destination

RESTORE_DIR = '/var/lib/nslab/restore'
SYSTEMD_DIR = '/etc/systemd/system'
TEMPLATE = 'nslab-restore@.service'
WANTED_BY = 'multi-user.target'
DECLARATION_VERSION = 1
#: The first line of the template: a unit file of that name without it is someone else's.
MARKER = '# Written by nslab.net.lab_network, which also removes it; see docs/architecture.md, "The lab at boot".'

#: Services that set up a host's firewall as a whole at boot.
FIREWALL_UNITS = ('nftables.service', 'netfilter-persistent.service', 'iptables.service', 'firewalld.service',
                  'docker.service')
#: The arguments that describe the lab. ``state`` is always present in a declaration, and
#: ``diagram_path`` and ``reuse_result`` are the controller's business.
_NOT_STORED = ('diagram_path', 'restore_at_boot', 'reuse_result')


def instance(lab: str) -> str:
    """The unit of a lab (lab names are letters, digits, ``.``, ``_`` and ``-``: no escaping)."""
    return 'nslab-restore@%s.service' % lab


def unit_text(python: str) -> str:
    """The template unit; ``%i`` is the lab's name."""
    return '\n'.join([
        MARKER,
        '[Unit]',
        'Description=nslab.net: restore the lab %i as its last successful run declared it',
        'Documentation=file:%s/%%i.json' % RESTORE_DIR,
        # The default route names the uplink, and the overlay's underlay address must be up.
        'Wants=network-online.target',
        # After the services that load or flush a whole ruleset at boot (nftables.service runs
        # `flush ruleset`): the lab's rules go into the firewall they leave, as a playbook run
        # after the boot would. Units that do not exist order nothing.
        'After=network-online.target %s' % ' '.join(FIREWALL_UNITS),
        # The lab's service units come from the restore itself (they are runtime units, in
        # /run/systemd/system), so they start after it by construction.
        '',
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
        'ExecStart=%s %s/%%i.pyz %s/%%i.json' % (python, RESTORE_DIR, RESTORE_DIR),
        'SyslogIdentifier=nslab-restore',
        # A restore that hangs must not hold the boot: multi-user.target waits for oneshot units.
        'TimeoutStartSec=300',
        '',
        '[Install]',
        'WantedBy=%s' % WANTED_BY,
        '',
    ])


def declaration(params: Dict[str, Any], spec: Dict[str, Any], plan: Dict[str, Any], code: str) -> str:
    """The text of the declaration a successful build of ``plan`` stores.

    Namespaces are written in their full form with the addresses the plan allocated: after a
    reboot nothing holds an address, and allocating again in declaration order could give a
    namespace the address another one had. Namespaces the run removed are left out. Overlay
    peers' addresses and namespaces that the run only knew from the host's record (which a
    reboot takes) are written in: those come from the plan.
    """
    args = {key: value for key, value in params.items() if key not in _NOT_STORED}
    args['state'] = 'present'
    chdirs = {ns['name']: ns['chdir'] for ns in spec['namespaces']}
    namespaces = []
    # The ports as lab_spec parsed them, as text again, one per port: the run at boot parses them (its one parse).
    ports = ports_by_destination(plan['publish'])
    for ns in plan['namespaces']:
        entry: Dict[str, Any] = dict(name=ns['name'], networks=[
            dict(network=m['network'], address=m['address'], interface=m['interface'],
                 host_interface=m['host_interface'],
                 publish=[port.as_text() for port in ports.get((m['bridge'], m['address'])) or []])
            for m in ns['networks']])
        if ns['command']:
            entry['command'] = ns['command']
        if chdirs.get(ns['name']):
            entry['chdir'] = chdirs[ns['name']]
        for key in ('dns', 'dns_search'):
            if ns.get(key):
                entry[key] = list(ns[key])
        if ns.get('extra_hosts'):
            entry['extra_hosts'] = ['%s:%s' % (name, address) for name, address in ns['extra_hosts']]
        namespaces.append(entry)
    args['namespaces'] = namespaces
    if args.get('overlay'):
        args['overlay'] = _overlay_args(args['overlay'], plan.get('overlay'))
    return json.dumps(dict(ANSIBLE_MODULE_ARGS=args,
                           nslab=dict(version=DECLARATION_VERSION, lab=params['name'], code=code)),
                      indent=1, sort_keys=True) + '\n'


def _overlay_args(overlay: Dict[str, Any], layout: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The overlay's peers as the plan knew them: their addresses and namespaces, given or
    recorded (a reboot takes the record); a peer whose address it did not know is left out."""
    known = {peer['name']: peer for peer in (layout or {}).get('peers') or []}
    peers = []
    for peer in overlay.get('peers') or []:
        planned = known.get(peer.get('name')) or {}
        address = peer.get('address') or planned.get('address')
        if address:
            peers.append(dict(peer, address=address, namespaces=planned.get('namespaces', peer.get('namespaces'))))
    return dict(overlay, peers=peers)


def code_of(text: Optional[str]) -> Optional[str]:
    """The digest of the code a stored declaration was written with, or None."""
    try:
        return json.loads(text or '')['nslab']['code']
    except (ValueError, KeyError, TypeError):
        return None


def plan_restore(current: Dict[str, Any], wanted: Optional[Dict[str, Any]], lab: str) -> List[Dict[str, Any]]:
    """The operations that make the host's restore files of ``lab`` what ``wanted`` says.

    ``current`` is what :func:`adapter.read_restore` found. ``wanted`` is None to remove the
    lab's files, else ``{declaration, code, template}``: the declaration's text, the code's
    digest and the template's text. Building writes the code before the declaration that
    names it, and enables the unit last; removal disables first, so that a run killed at any
    point never leaves an enabled unit without what it runs. The template goes with the
    last lab that uses it.
    """
    ops: List[Dict[str, Any]] = []
    if wanted is None:
        if current['enabled']:
            ops.append(dict(op='disable', lab=lab))
        if current['declaration'] is not None:
            ops.append(dict(op='remove_declaration', lab=lab))
        if current['code'] is not None:
            ops.append(dict(op='remove_code', lab=lab))
        if current['template'] is not None and not current['other_labs'] and current['template_ours']:
            ops += [dict(op='remove_template'), dict(op='daemon_reload')]
        return ops
    if current['code'] != wanted['code']:
        ops.append(dict(op='write_code', lab=lab))
    if current['declaration'] != wanted['declaration']:
        ops.append(dict(op='write_declaration', lab=lab, text=wanted['declaration']))
    if current['template'] != wanted['template']:
        ops.append(dict(op='write_template', text=wanted['template']))
    if not current['enabled']:
        ops.append(dict(op='enable', lab=lab))
    if any(op['op'] == 'write_template' for op in ops):
        ops.append(dict(op='daemon_reload'))
    return ops


def foreign_template(current: Dict[str, Any]) -> Optional[str]:
    """Why the template cannot be written: a unit file of its name the lab did not write."""
    if current['template'] is not None and not current['template_ours']:
        return ('%s/%s exists and was not written by nslab.net; the lab will not replace it (remove it, or set '
                'lab_restore_at_boot: false)' % (SYSTEMD_DIR, TEMPLATE))
    return None


def describe(current: Dict[str, Any], lab: str) -> Dict[str, Any]:
    """What the diff shows of the restore files."""
    return dict(unit=instance(lab), enabled=current['enabled'], declaration=current['declaration'] is not None,
                code=current['code'])
