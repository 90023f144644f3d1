# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab-state.py FILE: the lab as the VM's kernel and systemd hold it, for ``diff -u``.

Run in the VM (the scenario's ``script`` tasks) before a reboot and after the restore: the two
records are equal when the lab came back as it was. Each fact is a section of sorted JSON, so
that a difference names the namespace, link, route or rule that is not as it was.

Left out is what a rebuild cannot keep and the lab does not declare: interface indexes (and
the peer indexes and namespace ids that refer to them), MAC addresses (veth pairs and bridges
get random ones when created) with the IPv6 link-local addresses and local routes derived
from them, packet counters, and the restore unit itself (not loaded before the first reboot,
active after).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: Link attributes that a rebuild renumbers or draws at random.
VOLATILE_LINK = ('ifindex', 'link_index', 'link_netnsid', 'address', 'broadcast')
SYSCTLS = ('/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/bridge/bridge-nf-call-iptables')


def run(*argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout


def links(prefix):
    """The links of a namespace (``prefix`` is ``ip``'s ``-n NS`` or nothing) with their addresses."""
    found = []
    for link in json.loads(run('ip', '-j', *prefix, 'addr', 'show')):
        entry = {key: value for key, value in link.items() if key not in VOLATILE_LINK}
        entry['addr_info'] = [addr for addr in link.get('addr_info', [])
                              if not (addr.get('family') == 'inet6' and addr.get('scope') == 'link')]
        found.append(entry)
    return sorted(found, key=lambda item: item['ifname'])


def routes(prefix):
    found = [route for route in json.loads(run('ip', '-j', *prefix, 'route', 'show', 'table', 'all'))
             if not (route.get('type') == 'local' and route.get('dst', '').startswith('fe80:'))]
    return sorted(found, key=lambda route: json.dumps(route, sort_keys=True))


def rules():
    """The lab's iptables lines (its NSLAB-* chains and the jumps into them), without counters.

    Within a chain, consecutive rules with the same action (all of ``-j ...``) are sorted: which
    of them matches a packet decides nothing, and a run that adds a published port appends its
    rule where the restore, building the lab in one go, puts it among the others.
    """
    lines, table, run_of = [], None, []

    def flush():
        lines.extend(sorted(run_of))
        del run_of[:]

    for line in run('iptables-save').splitlines():
        if line.startswith('*'):
            flush()
            table = line
        elif 'NSLAB' in line:
            if table:
                lines.append(table)
                table = None
            if not line.startswith('-A '):
                flush()
                lines.append(line.rsplit(' [', 1)[0])
                continue
            if run_of and _chain_action(run_of[-1]) != _chain_action(line):
                flush()
            run_of.append(line)
    flush()
    return lines


def _chain_action(rule):
    return rule.split()[1], rule.rsplit(' -j ', 1)[-1]


def sysctls():
    values = {}
    names = list(SYSCTLS) + ['/proc/sys/net/ipv4/conf/%s/route_localnet' % name
                             for name in sorted(os.listdir('/proc/sys/net/ipv4/conf'))]
    for name in names:
        if os.path.exists(name):
            with open(name) as handle:
                values[name] = handle.read().strip()
    return values


def units():
    """The lab's service units, each with its state and the namespace of its main process."""
    found = []
    listed = run('systemctl', 'list-units', '--all', '--plain', '--no-legend', 'nslab-*')
    for unit in sorted(line.split()[0] for line in listed.splitlines() if line.strip()):
        if unit.startswith('nslab-restore@'):
            continue
        shown = dict(line.split('=', 1) for line in run(
            'systemctl', 'show', '--property=ActiveState,SubState,MainPID', unit).splitlines() if '=' in line)
        pid = shown.pop('MainPID', '0')
        shown['netns'] = run('ip', 'netns', 'identify', pid).strip() if pid != '0' else None
        found.append(dict(shown, unit=unit))
    return found


def main():
    namespaces = sorted(line.split()[0] for line in run('ip', 'netns', 'list').splitlines() if line.strip())
    sections = [('namespaces', namespaces), ('host links and addresses', links([])), ('host routes', routes([]))]
    for name in namespaces:
        sections += [('%s links and addresses' % name, links(['-n', name])), ('%s routes' % name, routes(['-n', name]))]
    sections += [('iptables rules', rules()), ('sysctls', sysctls()), ('service units', units())]
    with open(sys.argv[1], 'w') as out:
        for title, value in sections:
            out.write('## %s\n%s\n' % (title, json.dumps(value, indent=1, sort_keys=True)))


if __name__ == '__main__':
    main()
