# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arguments of netns_service, and the checks of its services before anything is read.

Problems are collected, not raised one by one, so a task fails once naming all of them.
"""


import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates
from ansible_collections.nslab.net.plugins.module_utils._services import paths
from ansible_collections.nslab.net.plugins.module_utils._services.paths import default_chdir
from ansible_collections.nslab.net.plugins.module_utils._services.unit_file import CONTROL

SERVICE_KEYS = ('netns', 'command', 'name', 'chdir')
MANAGERS = ('systemd', 'process')
MAX_NAME = 64
# The name becomes a file name and part of a unit name: only characters both take as is.
_NAME = re.compile(r'[A-Za-z0-9_.-]+\Z')


def choose_manager(requested: str, systemd_booted: bool) -> str:
    """The manager ``auto`` means here: systemd when it is init (sd_booted), else process."""
    if requested == 'auto':
        return 'systemd' if systemd_booted else 'process'
    return requested


def service_name_error(name: object) -> Optional[str]:
    """Return why ``name`` cannot name a service (a file and a unit name), or None."""
    if not isinstance(name, str) or not name:
        return 'service name %r is empty' % (name,)
    if len(name) > MAX_NAME or not _NAME.match(name):
        return ("service name %r may only contain letters, digits, '-', '_' and '.', at most %d "
                "characters" % (name, MAX_NAME))
    if name.startswith('.'):
        return 'service name %r may not start with a dot' % (name,)
    return None


def parse_services(items: Iterable[Dict[str, Any]], state: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Validate the task's service items; return ``(specs, problems)``.

    A spec is a dict with name, netns, command and chdir (the default filled in) and
    ``own_chdir`` (True when chdir is the service's own directory, which the module creates).
    Problems of every item are collected; the caller adds the host's before failing.
    """
    specs, problems = [], []  # type: List[Dict[str, Any]], List[str]
    for number, item in enumerate(items, 1):
        netns, command = item.get('netns') or None, item.get('command')
        name = item.get('name') or netns
        label = 'service %r' % (name,) if name else 'service #%d' % number
        errors: List[Optional[str]] = []
        if name is None:
            errors.append('give netns (or, with state=absent, name)' if state == 'absent'
                          else 'netns is required')
        else:
            errors.append(service_name_error(name))
        if netns is None and state == 'present' and name is not None:
            errors.append('netns is required with state=present')
        elif netns is not None:
            errors.append(netns_name_error(netns))
        if state == 'present':
            errors.append(_command_error(command))
        chdir = item.get('chdir') or None
        if chdir is not None:
            errors.append(_chdir_error(chdir))
        problems.extend('%s: %s' % (label, error) for error in errors if error)
        specs.append(dict(name=name, netns=netns, command=command,
                          chdir=chdir or (default_chdir(name) if name else None),
                          own_chdir=chdir is None))
    for repeated in duplicates(spec['name'] for spec in specs if spec['name']):
        problems.append('service name %r is listed twice' % (repeated,))
    return specs, problems


def _command_error(command: Optional[str]) -> Optional[str]:
    if command is None:
        return 'command is required with state=present'
    if not command.strip():
        return 'command is empty'
    if '\0' in command:
        return 'command %r contains a NUL character' % (command,)
    return None


def _chdir_error(chdir: str) -> Optional[str]:
    if not chdir.startswith('/'):
        return 'chdir %r is not an absolute path' % (chdir,)
    if CONTROL.search(chdir):
        return 'chdir %r contains a control character' % (chdir,)
    if chdir != chdir.strip():
        # systemd strips it from WorkingDirectory=, so the two managers would disagree.
        return 'chdir %r begins or ends with white space' % (chdir,)
    return None


def host_problems(specs: Iterable[Dict[str, Any]], state: str, requested_manager: str, systemd_booted: bool,
                  namespaces: Dict[str, bool], directories: Dict[str, bool], check_mode: bool) -> List[str]:
    """What the host says against the task: a missing namespace or directory, no systemd.

    ``namespaces`` maps netns names to whether they exist, ``directories`` the explicit
    chdirs to whether they are directories. In check mode missing ones are taken as made by
    an earlier task of the play, as the other modules do.
    """
    problems = []
    if requested_manager == 'systemd' and not systemd_booted:
        problems.append('manager systemd: systemd is not the init system here (%s is not a '
                        'directory); use manager: auto or process' % paths.UNIT_DIR)
    if state != 'present' or check_mode:
        return problems
    for spec in specs:
        netns = spec['netns']
        if netns in namespaces and not namespaces[netns]:
            problems.append('service %r: namespace %s does not exist (create it first, e.g. with '
                            'nslab.net.netns)' % (spec['name'], netns))
        chdir = spec['chdir']
        if not spec['own_chdir'] and chdir in directories and not directories[chdir]:
            problems.append('service %r: chdir %s is not a directory' % (spec['name'], chdir))
    return problems


_SERVICE_OPTIONS = dict(
    netns=dict(type='str'),
    command=dict(type='str'),
    name=dict(type='str'),
    chdir=dict(type='path'),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
SERVICE_ARGS = dict(
    argument_spec=dict(
        _SERVICE_OPTIONS,
        services=dict(type='list', elements='dict', options=_SERVICE_OPTIONS),
        manager=dict(type='str', choices=['auto', 'systemd', 'process'], default='auto'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('services', 'netns', 'name')],
    mutually_exclusive=[('services', key) for key in SERVICE_KEYS],
)
