# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's iptables rules as data, independent of the backend that stores them.

A rule is its table, its chain and its arguments in the canonical form ``iptables-save``
prints them (``-s``, ``-d``, ``-i``, ``-o``, ``-p``, then the matches in order, then
``-j``), as a tuple of tokens. Both backends read rules back in that form, so the rules
the modules want and the rules the kernel holds compare as plain tuples, in sets.

The chains: every rule of ours lives in a chain named ``NSLAB-*`` and carries a comment
``nslab:<kind>:<owner>``; the chains are reached from the built-in chains by one jump
each, tagged ``nslab``. Inside a chain the order of our rules never matters (each chain
holds rules of one verdict, or rules that cannot match the same packet), which is what
lets the planner compare sets and append; the order that does matter is the order of
the jumps, which is fixed here::

    filter FORWARD -> NSLAB-FORWARD -> NSLAB-USER      the user's hook, evaluated first
                                    -> NSLAB-INBOUND   ACCEPT into lab bridges
                                    -> NSLAB-ISOLATE   DROP the rest into lab bridges
                                    -> NSLAB-OUTBOUND  ACCEPT out of lab bridges
    filter INPUT   -> NSLAB-INPUT                       DROP forged 127.0.0.0/8 traffic
    nat PREROUTING -> NSLAB-DNAT  (local destinations)  published ports
    nat OUTPUT     -> NSLAB-DNAT, NSLAB-DNAT-LOCAL      loopback-only published ports
    nat POSTROUTING -> NSLAB-POSTROUTING                MASQUERADE
"""


import re
import shlex
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

PREFIX = 'NSLAB-'
SKELETON_COMMENT = 'nslab'
COMMENT_PREFIX = 'nslab:'
USER_CHAIN = 'NSLAB-USER'

#: Our chains per table, in the order they are created.
CHAINS = {
    'filter': ('NSLAB-FORWARD', USER_CHAIN, 'NSLAB-INBOUND', 'NSLAB-ISOLATE', 'NSLAB-OUTBOUND',
               'NSLAB-INPUT'),
    'nat': ('NSLAB-DNAT', 'NSLAB-DNAT-LOCAL', 'NSLAB-POSTROUTING'),
}
TABLES = ('filter', 'nat')

_LOCAL = ('-m', 'addrtype', '--dst-type', 'LOCAL')
#: The jumps that make up the skeleton: (table, chain, match arguments, target), in order
#: per chain. Jumps from built-in chains are inserted at the top once; jumps inside our
#: own chains are appended in this order.
JUMPS = (
    ('filter', 'FORWARD', (), 'NSLAB-FORWARD'),
    ('filter', 'NSLAB-FORWARD', (), USER_CHAIN),
    ('filter', 'NSLAB-FORWARD', (), 'NSLAB-INBOUND'),
    ('filter', 'NSLAB-FORWARD', (), 'NSLAB-ISOLATE'),
    ('filter', 'NSLAB-FORWARD', (), 'NSLAB-OUTBOUND'),
    ('filter', 'INPUT', (), 'NSLAB-INPUT'),
    ('nat', 'PREROUTING', _LOCAL, 'NSLAB-DNAT'),
    ('nat', 'OUTPUT', _LOCAL, 'NSLAB-DNAT'),
    ('nat', 'OUTPUT', _LOCAL, 'NSLAB-DNAT-LOCAL'),
    ('nat', 'POSTROUTING', (), 'NSLAB-POSTROUTING'),
)
BUILTIN_CHAINS = {
    'filter': ('INPUT', 'FORWARD', 'OUTPUT'),
    'nat': ('PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'),
}

# Tokens that need no quotes in iptables-restore input or in a shell.
_PLAIN = re.compile(r'^[A-Za-z0-9_./:,+!=-]+$')


class Rule(tuple):
    """One rule: ``Rule(table, chain, args)`` with ``args`` a tuple of canonical tokens."""

    __slots__ = ()

    def __new__(cls, table: str, chain: str, args: Iterable[str]) -> 'Rule':
        return tuple.__new__(cls, (table, chain, tuple(args)))

    @property
    def table(self) -> str:
        return self[0]

    @property
    def chain(self) -> str:
        return self[1]

    @property
    def args(self) -> Tuple[str, ...]:
        return self[2]

    @property
    def comment(self) -> Optional[str]:
        return comment_of(self.args)

    def as_line(self, verb: str = '-A') -> str:
        """The rule as a line of ``iptables-save`` / ``iptables-restore`` input."""
        return ' '.join([verb, self.chain] + [quote(token) for token in self.args])

    def as_command(self, verb: str = '-A', position: Optional[int] = None) -> str:
        """The ``iptables`` command that adds (or with ``-D`` deletes) the rule."""
        words = ['iptables', '-t', self.table, verb, self.chain]
        if position is not None:
            words.append(str(position))
        return ' '.join(words + [quote(token) for token in self.args])

    def __repr__(self) -> str:
        return 'Rule(%r, %r, %r)' % tuple(self)


def quote(token: str) -> str:
    """``token`` as iptables-save would print it."""
    if _PLAIN.match(token) or token in ('!',) or re.match(r'^[A-Za-z0-9_./:,+!-]+$', token):
        return token
    return '"%s"' % token.replace('\\', '\\\\').replace('"', '\\"')


def comment_of(args: Tuple[str, ...]) -> Optional[str]:
    """The value of a rule's comment match, or None."""
    for index in range(len(args) - 3):
        if args[index:index + 3] == ('-m', 'comment', '--comment'):
            return args[index + 3]
    return None


def owner_comment(kind: str, owner: str) -> str:
    """The comment that tags the rules ``kind`` (``masquerade``, ``publish``) makes for ``owner``."""
    return '%s%s:%s' % (COMMENT_PREFIX, kind, owner)


def owner_parts(comment: Optional[str], kind: str) -> Optional[List[str]]:
    """The ``:``-separated parts of the owner in ``comment``, if :func:`owner_comment` made it
    for ``kind``; else None (another kind's, the skeleton's, someone else's or no comment)."""
    prefix = owner_comment(kind, '')
    if not comment or not comment.startswith(prefix):
        return None
    return comment[len(prefix):].split(':')


def is_ours(rule: Rule) -> bool:
    """Whether a rule carries one of our comments (the skeleton's or an owner's)."""
    comment = rule.comment
    return comment is not None and (comment == SKELETON_COMMENT or comment.startswith(COMMENT_PREFIX))


def build(table: str, chain: str, target: str, src: Optional[str] = None, dst: Optional[str] = None, in_if: Optional[str] = None,
          out_if: Optional[str] = None, proto: Optional[str] = None, matches: Iterable[Tuple[str, Iterable[str]]] = (),
          target_args: Iterable[str] = (), comment: Optional[str] = None) -> Rule:
    """A rule with its arguments in canonical order.

    ``src``, ``dst``, ``in_if``, ``out_if`` and ``proto`` may start with ``!`` to negate
    them; ``matches`` is a sequence of ``(name, args)``; the protocol's own match
    (``-m tcp``) is added after ``-p`` as iptables-save prints it, the comment last.
    """
    args = []
    for flag, value in (('-s', src), ('-d', dst), ('-i', in_if), ('-o', out_if), ('-p', proto)):
        if value is None:
            continue
        if value.startswith('!'):
            args.append('!')
            value = value[1:]
        args += [flag, value]
    for name, match_args in matches:
        args += ['-m', name] + list(match_args)
    if comment is not None:
        args += ['-m', 'comment', '--comment', comment]
    args += ['-j', target] + list(target_args)
    return Rule(table, chain, args)


def jump_rules() -> List[Rule]:
    """The skeleton's jumps as rules, in order."""
    return [build(table, chain, target, matches=[(match[1], match[2:])] if match else (),
                  comment=SKELETON_COMMENT)
            for table, chain, match, target in JUMPS]


class Ruleset:
    """What a backend read: per table, the chains (in order) and each chain's rules (in order)."""

    def __init__(self) -> None:
        self.chains: Dict[str, List[str]] = {table: [] for table in TABLES}
        self.rules: Dict[str, Dict[str, List[Rule]]] = {table: {} for table in TABLES}

    def add_chain(self, table: str, chain: str) -> None:
        if chain not in self.rules[table]:
            self.chains[table].append(chain)
            self.rules[table][chain] = []

    def append(self, rule: Rule) -> None:
        self.add_chain(rule.table, rule.chain)
        self.rules[rule.table][rule.chain].append(rule)

    def has_chain(self, table: str, chain: str) -> bool:
        return chain in self.rules[table]

    def chain_rules(self, table: str, chain: str) -> List[Rule]:
        return list(self.rules[table].get(chain, ()))

    def copy(self) -> 'Ruleset':
        other = Ruleset()
        for table in TABLES:
            other.chains[table] = list(self.chains[table])
            other.rules[table] = {chain: list(rules) for chain, rules in self.rules[table].items()}
        return other


# A word of iptables-save output: bare, or double-quoted with \\ and \" escaped inside, as
# xtables' save_string writes comments.
_SAVE_WORD = re.compile(r'"((?:[^"\\]|\\.)*)"(?=\s|$)|([^\s"\'\\]+)(?=\s|$)|(\S)')
_ESCAPED = re.compile(r'\\(["\\])')


def save_words(line: str) -> List[str]:
    """``shlex.split(line)`` for the words iptables-save writes, ten times faster; anything
    else (single quotes, backslashes outside double quotes) goes to shlex itself."""
    words = []
    for match in _SAVE_WORD.finditer(line):
        quoted, bare, other = match.groups()
        if other is not None:
            return shlex.split(line)
        words.append(bare if bare is not None else _ESCAPED.sub(r'\1', quoted))
    return words


def parse_save(text: str, tables: Sequence[str] = TABLES) -> Ruleset:
    """A :class:`Ruleset` from ``iptables-save`` output (the tables in ``tables`` only)."""
    ruleset = Ruleset()
    table = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            table = line[1:] if line[1:] in tables else None
        elif table is None or line == 'COMMIT':
            continue
        elif line.startswith(':'):
            ruleset.add_chain(table, line[1:].split()[0])
        elif line.startswith('-A '):
            try:
                words = save_words(line)
            except ValueError as exc:
                raise ValueError('cannot parse line %d of iptables-save output (%s): %s' % (number, exc, line))
            ruleset.append(Rule(table, words[1], words[2:]))
        else:
            raise ValueError('unexpected line %d of iptables-save output: %s' % (number, line))
    return ruleset
