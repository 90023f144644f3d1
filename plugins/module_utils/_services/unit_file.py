# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unit file of a service of the systemd manager, and the quoting its lines need.

The file carries a metadata line with what it runs, so a later run reads it back as data.
"""


import json
import re
from typing import Any, Dict, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_ETC_DIR, NETNS_ETC_FILES, NETNS_RUN_DIR
from ansible_collections.nslab.net.plugins.module_utils._services.paths import SHELL

#: Characters a unit file cannot hold as they are (nor a working directory, see the spec).
CONTROL = re.compile(r'[\x00-\x1f\x7f]')
# Read back from a unit file to report what it runs; JSON keeps it on one line.
UNIT_METADATA = '# nslab.net.netns_service: '


def systemd_quote(argument: str) -> str:
    """``argument`` as one word of a systemd command line, taken literally.

    Double quotes with C escapes keep it one word; specifiers (``%``) are expanded even in
    quotes and environment variables (``$``) after unquoting, so both are doubled.
    """
    out = []
    for char in argument:
        if char in '\\"':
            out.append('\\' + char)
        elif char == '\n':
            out.append('\\n')
        elif char == '\t':
            out.append('\\t')
        elif CONTROL.match(char):
            out.append('\\x%02x' % ord(char))
        elif char in '%$':
            out.append(char * 2)
        else:
            out.append(char)
    return '"%s"' % ''.join(out)


def _specifiers_escaped(value: str) -> str:
    return value.replace('%', '%%')


def unit_text(spec: Dict[str, Any]) -> str:
    """The unit file of a service of the systemd manager."""
    metadata = json.dumps(dict(netns=spec['netns'], command=spec['command'], chdir=spec['chdir']),
                          sort_keys=True)
    return '\n'.join([
        '# Written by nslab.net.netns_service; removed by it with state=absent.',
        '# A runtime unit: it is gone after a reboot, like the namespace it runs in.',
        UNIT_METADATA + metadata,
        '[Unit]',
        'Description=%s' % _specifiers_escaped('nslab.net service %s in network namespace %s'
                                               % (spec['name'], spec['netns'])),
        'After=network.target',
        '',
        '[Service]',
        'Type=simple',
        'NetworkNamespacePath=%s' % _specifiers_escaped('%s/%s' % (NETNS_RUN_DIR, spec['netns'])),
        # What `ip netns exec` binds (the namespace's names, which the lab writes there);
        # "-": a namespace without them keeps the host's.
    ] + ['BindReadOnlyPaths=-%s:/etc/%s' % (_specifiers_escaped('%s/%s/%s' % (NETNS_ETC_DIR, spec['netns'], name)), name)
         for name in NETNS_ETC_FILES] + [
        'WorkingDirectory=%s' % _specifiers_escaped(spec['chdir']),
        'ExecStart=%s -c %s' % (SHELL, systemd_quote(spec['command'])),
        'Restart=on-failure',
        'RestartSec=1s',
        # The process manager's grace period, so both stop a service alike.
        'TimeoutStopSec=5s',
        '',
    ])


def unit_metadata(text: Optional[str]) -> Dict[str, Optional[str]]:
    """``dict(netns, command, chdir)`` from a unit file this module wrote; Nones otherwise."""
    for line in (text or '').splitlines():
        if line.startswith(UNIT_METADATA):
            try:
                found = json.loads(line[len(UNIT_METADATA):])
            except ValueError:
                break
            if isinstance(found, dict):
                return {key: found.get(key) for key in ('netns', 'command', 'chdir')}
            break
    return dict(netns=None, command=None, chdir=None)
