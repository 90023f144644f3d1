# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few kernel settings the firewall modules need, read and written through /proc/sys.

A setting is named as sysctl names it (``net.ipv4.conf.br0.route_localnet``). Interface
names may contain dots, so a setting is built from its path components and only printed
in dotted form, with dots inside a component written as ``/`` the way sysctl does.
"""


import os
from typing import Dict, Iterable, Optional

PROC_SYS = '/proc/sys'


class Sysctl(tuple):
    """A kernel setting by its path components, e.g. ``Sysctl('net', 'ipv4', 'ip_forward')``."""

    __slots__ = ()

    def __new__(cls, *parts: str) -> 'Sysctl':
        return tuple.__new__(cls, parts)

    @classmethod
    def from_name(cls, name: str) -> 'Sysctl':
        """The setting a dotted name names (the inverse of :attr:`name`)."""
        return cls(*[part.replace('/', '.') for part in name.split('.')])

    @property
    def name(self) -> str:
        return '.'.join(part.replace('.', '/') for part in self)

    @property
    def path(self) -> str:
        return os.path.join(PROC_SYS, *self)


IP_FORWARD = Sysctl('net', 'ipv4', 'ip_forward')
BRIDGE_NF_CALL_IPTABLES = Sysctl('net', 'bridge', 'bridge-nf-call-iptables')


def route_localnet(interface: str) -> Sysctl:
    return Sysctl('net', 'ipv4', 'conf', interface, 'route_localnet')


def read_sysctl(setting: Sysctl) -> Optional[str]:
    """The setting's value as text, or None where the kernel does not have it."""
    try:
        with open(setting.path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def write_sysctl(setting: Sysctl, value: object) -> None:
    with open(setting.path, 'w') as handle:
        handle.write('%s\n' % value)


def read_sysctls(settings: Iterable[Sysctl]) -> Dict[str, Optional[str]]:
    """``{name: value}`` of each setting, read once; None where the kernel does not have it."""
    values = {}
    for setting in settings:
        if setting.name not in values:
            values[setting.name] = read_sysctl(setting)
    return values
