# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing the host's iptables rules, in the backend its own ``iptables`` uses.

The ``nft`` flavour of iptables keeps rules in nf_tables; python-iptables (libiptc) only
sees the legacy tables, where its rules would be invisible to the host's ``iptables`` and
its users. So on nf_tables hosts the rules are read with ``iptables-nft-save`` and written
with one ``iptables-nft-restore --noflush`` (one transaction per table); on legacy hosts
they are read and written in-process with python-iptables, one libiptc commit per table.
Either way the writer holds the xtables lock from before the read until after the write,
as ``iptables -w`` does, so a concurrent legacy writer neither loses nor overwrites a rule
(nf_tables itself rejects a transaction built on a stale ruleset).
"""


import os
import socket
import struct
import traceback
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._common.file_lock import flock_within
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import (
    BUILTIN_CHAINS, CHAINS, TABLES, Rule, Ruleset, parse_save)

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import FirewallPlan

# python-iptables is imported by the legacy backend when it opens (load_iptc): the import
# costs 0.13 s, which a host on the nft flavour, most of them, never needs to pay.
iptc: Any = None
IPTC_IMPORT_ERROR: Optional[str] = None

BACKENDS = ('legacy', 'nft')
LOCK_WAIT_SECONDS = 30


class FirewallError(Exception):
    """The backend could not read or write the rules; the message says what and why."""


def load_iptc() -> Any:
    """python-iptables, imported once; None (and IPTC_IMPORT_ERROR set) where it cannot be."""
    global iptc, IPTC_IMPORT_ERROR  # pylint: disable=global-statement
    if iptc is None and IPTC_IMPORT_ERROR is None:
        try:
            import iptc as loaded  # pylint: disable=import-outside-toplevel
        except Exception:  # pylint: disable=broad-except  # a missing libxtables raises more than ImportError
            IPTC_IMPORT_ERROR = traceback.format_exc()
        else:
            iptc = loaded
    return iptc


def detect_backend(module: 'AnsibleModule') -> str:
    """``nft`` or ``legacy``: what the host's own ``iptables`` command uses."""
    iptables = module.get_bin_path('iptables')
    if not iptables:
        raise FirewallError('iptables is not installed, so the host has no iptables backend to detect;'
                            ' install iptables or set backend to legacy or nft')
    rc, out, err = module.run_command([iptables, '-V'])
    if rc != 0:
        raise FirewallError('%s -V failed: %s' % (iptables, (err or out).strip()))
    if '(nf_tables)' in out:
        return 'nft'
    # iptables before 1.8 has only the legacy backend and does not name it.
    return 'legacy'


def open_backend(module: 'AnsibleModule', backend: str) -> Union['NftTables', 'LegacyTables']:
    return NftTables(module) if backend == 'nft' else LegacyTables(module)


class XtablesLock:
    """The lock ``iptables -w`` takes: flock on /run/xtables.lock (or $XTABLES_LOCKFILE)."""

    def __init__(self, wait: float = LOCK_WAIT_SECONDS) -> None:
        self.path = os.environ.get('XTABLES_LOCKFILE') or '/run/xtables.lock'
        self.wait = wait
        self.fd: Optional[int] = None

    def __enter__(self) -> 'XtablesLock':
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        if not flock_within(self.fd, True, self.wait):
            os.close(self.fd)
            raise FirewallError('could not take the xtables lock %s within %d s: another iptables'
                                ' writer holds it' % (self.path, self.wait))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        os.close(self.fd)  # type: ignore[arg-type]  # __enter__ opened it
        self.fd = None


def _interesting(table: str, chain: str) -> bool:
    return chain in BUILTIN_CHAINS[table] or chain in CHAINS[table]


class NftTables:
    """The nf_tables flavour, through the host's iptables-nft-save and iptables-nft-restore."""

    name = 'nft'

    def __init__(self, module: 'AnsibleModule') -> None:
        self.module = module
        self.save = self._tool('iptables-nft-save', 'iptables-save')
        self.restore = self._tool('iptables-nft-restore', 'iptables-restore')

    def _tool(self, name: str, plain: str) -> str:
        path = self.module.get_bin_path(name)
        if path:
            return path
        # Some distributions install the nft flavour only under the plain name.
        path = self.module.get_bin_path(plain)
        if path:
            rc, out, unused = self.module.run_command([path, '-V'])
            if rc == 0 and '(nf_tables)' in out:
                return path
        raise FirewallError('neither %s nor an nf_tables %s is installed' % (name, plain))

    def read(self) -> Ruleset:
        rc, out, err = self.module.run_command([self.save])
        if rc != 0:
            raise FirewallError('%s failed: %s' % (self.save, err.strip()))
        try:
            return parse_save(out)
        except ValueError as exc:
            raise FirewallError(str(exc))

    def apply(self, plan: 'FirewallPlan') -> None:
        data = plan.restore_input()
        rc, out, err = self.module.run_command([self.restore, '--noflush'], data=data, binary_data=True)
        if rc != 0:
            raise FirewallError('%s --noflush failed, nothing of the failing table was changed: %s\n'
                                'input was:\n%s' % (self.restore, (err or out).strip(), data))


def _prefix_length(mask: str) -> int:
    return bin(struct.unpack('!I', socket.inet_aton(mask))[0]).count('1')


def _address_args(flag: str, value: str) -> List[str]:
    """``-s``/``-d`` arguments from python-iptables' ``[!]addr/netmask`` form."""
    negated = value.startswith('!')
    address, mask = value.lstrip('!').split('/')
    if mask == '0.0.0.0' and not negated:
        return []
    return (['!'] if negated else []) + [flag, '%s/%d' % (address, _prefix_length(mask))]


def _flag_args(flag: str, value: Optional[str], absent: Iterable[str] = ()) -> List[str]:
    if value is None or value in absent:
        return []
    if value.startswith('!'):
        return ['!', flag, value[1:]]
    return [flag, value]


def _parameter_args(parameters: Mapping[str, Iterable[str]]) -> List[str]:
    args = []
    for name, values in parameters.items():
        values = list(values)
        if values[:1] == ['!']:
            args.append('!')
            values = values[1:]
        args += ['--' + name] + values
    return args


def iptc_rule_args(rule: Any) -> List[str]:
    """A python-iptables rule as canonical tokens, in iptables-save's order."""
    args = _address_args('-s', rule.src) + _address_args('-d', rule.dst)
    args += _flag_args('-i', rule.in_interface) + _flag_args('-o', rule.out_interface)
    args += _flag_args('-p', rule.protocol, absent=('ip', 'all', '0'))
    for match in rule.matches:
        args += ['-m', match.name] + _parameter_args(match.get_all_parameters())
    target = rule.target
    if target is not None and target.name:
        args += ['-g' if getattr(target, 'goto', False) else '-j', target.name]
        args += _parameter_args(target.get_all_parameters())
    return args


def iptc_rule(args: Iterable[str]) -> Any:
    """A python-iptables rule from canonical tokens (the ones :mod:`rules` builds)."""
    rule = iptc.Rule()
    setters = {'-s': 'src', '-d': 'dst', '-i': 'in_interface', '-o': 'out_interface', '-p': 'protocol'}
    negate = False
    current = None
    parameter = None
    values: List[str] = []

    def flush() -> None:
        if current is not None and parameter is not None:
            current.set_parameter(parameter, values if len(values) != 1 else values[0])

    tokens = list(args)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == '!':
            negate = True
        elif token in setters and current is None:
            setattr(rule, setters[token], ('!' if negate else '') + tokens[index + 1])
            negate = False
            index += 1
        elif token in ('-m', '-j', '-g'):
            flush()
            parameter, values = None, []
            name = tokens[index + 1]
            current = rule.create_match(name) if token == '-m' else rule.create_target(name, goto=token == '-g')
            index += 1
        elif token.startswith('--'):
            flush()
            parameter, values = token[2:], (['!'] if negate else [])
            negate = False
        else:
            values.append(token)
        index += 1
    flush()
    return rule


class LegacyTables:
    """The legacy flavour, in-process through python-iptables (libiptc)."""

    name = 'legacy'

    def __init__(self, module: 'AnsibleModule') -> None:
        if load_iptc() is None:
            from ansible.module_utils.basic import missing_required_lib  # pylint: disable=import-outside-toplevel
            raise FirewallError(missing_required_lib('python-iptables'))
        self.module = module
        self.tables: Dict[str, Any] = {}  # iptc.Table
        self.entries: Dict[Tuple[str, str], List[Any]] = {}  # iptc.Rule
        # To tell a jump to a chain from a target extension, python-iptables opens every
        # table it knows, which creates the raw, mangle and security tables on a host that
        # had none. Our jumps only lead to chains in the tables we write. Releases before
        # 1.1 (Debian 12 packages 1.0.1) have no such cache: there those tables appear, empty.
        known = getattr(iptc.Table, 'existing_table_names', None)
        for name in iptc.Table.ALL if known is not None else ():
            if name not in TABLES:
                known.setdefault(name, False)  # type: ignore[union-attr]  # the loop runs only where known is not None

    def read(self) -> Ruleset:
        ruleset = Ruleset()
        # The rule objects point into the table handle's memory: apply() must use the very
        # handles read() filled, without a refresh (the xtables lock keeps them current).
        self.tables, self.entries = {}, {}
        try:
            for name in TABLES:
                table = iptc.Table(name, autocommit=False)
                table.refresh()
                self.tables[name] = table
                for chain in table.chains:
                    ruleset.add_chain(name, chain.name)
                    if not _interesting(name, chain.name):
                        continue
                    rules = chain.rules
                    self.entries[(name, chain.name)] = rules
                    for rule in rules:
                        ruleset.append(Rule(name, chain.name, iptc_rule_args(rule)))
        except iptc.IPTCError as exc:
            raise FirewallError('python-iptables could not read the legacy tables: %s' % exc)
        return ruleset

    def apply(self, plan: 'FirewallPlan') -> None:
        for name in plan.tables():
            table = self.tables[name]
            step = 'starting'
            try:
                for table_name, chain in plan.new_chains:
                    if table_name == name:
                        step = 'creating chain %s' % chain
                        table.create_chain(chain)
                for rule, index in plan.deletes:
                    if rule.table == name:
                        step = 'deleting %s' % rule.as_line('-D')
                        iptc.Chain(table, rule.chain).delete_rule(self.entries[(name, rule.chain)][index])
                for rule in plan.inserts:
                    if rule.table == name:
                        step = 'inserting %s' % rule.as_line('-I')
                        iptc.Chain(table, rule.chain).insert_rule(iptc_rule(rule.args), 0)
                for rule in plan.appends:
                    if rule.table == name:
                        step = 'appending %s' % rule.as_line('-A')
                        iptc.Chain(table, rule.chain).append_rule(iptc_rule(rule.args))
                for table_name, chain in plan.old_chains:
                    if table_name == name:
                        step = 'deleting chain %s' % chain
                        table.delete_chain(chain)
                step = 'committing'
                table.commit()
            except (iptc.IPTCError, ValueError, AttributeError) as exc:
                raise FirewallError('python-iptables failed on table %s while %s, nothing of that table'
                                    ' was changed: %s' % (name, step, exc))
