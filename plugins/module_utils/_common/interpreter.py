# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the Python packages the modules need when the module's interpreter lacks them.

Distributions package pyroute2 and python-iptables for their own Python (python3-pyroute2,
python3-iptables), which the role installs; a play whose ansible_python_interpreter is a
virtualenv or another Python does not see them. Like ansible.posix's selinux modules, a
module then runs itself again under the system Python that has them, once (Ansible's
respawn passes the same arguments and result through); where none has them, the message
names the interpreter that was used, so the user knows which one to give the packages to.
"""


import sys
from typing import Iterable, Sequence

from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module

#: Where distributions keep the Python their packages are built for.
SYSTEM_INTERPRETERS = ('/usr/bin/python3', '/usr/libexec/platform-python', '/usr/bin/python')


def respawn_with(package: str) -> None:
    """Run the module again under a system Python that can import ``package``, if there is
    one other than this interpreter and the module has not already been respawned.

    Returns only when no such interpreter exists (respawning ends this process).
    """
    if has_respawned():
        return
    interpreter = probe_interpreters_for_module(SYSTEM_INTERPRETERS, package)
    if interpreter and interpreter != sys.executable:
        respawn_module(interpreter)


#: The Python packages among what the lab needs; the rest are commands.
PYTHON_PACKAGES = ('pyroute2', 'python-iptables')


def lacking(packages: Iterable[str]) -> str:
    """How a message names the interpreter that lacks ``packages``."""
    return 'the Python interpreter %s on the host lacks %s' % (sys.executable, ', '.join(packages))


def missing_text(missing: Sequence[str]) -> str:
    """What the host lacks, with the interpreter named for the Python packages."""
    parts = []
    commands = [name for name in missing if name not in PYTHON_PACKAGES]
    if commands:
        parts.append('the host lacks %s' % ', '.join(commands))
    packages = [name for name in missing if name in PYTHON_PACKAGES]
    if packages:
        parts.append(lacking(packages))
    return '; '.join(parts)
