# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choose the iptables flavour (nft or legacy) that ``iptables`` runs in a sandbox world.

Debian and Ubuntu ship both flavours and pick one with update-alternatives:
``/usr/sbin/iptables`` is a link to ``/etc/alternatives/iptables``, which links
to ``/usr/sbin/iptables-nft`` or ``/usr/sbin/iptables-legacy``; ``iptables-save``
and ``iptables-restore`` are slaves of the same group, and ``ip6tables`` has a
group of its own. :func:`use_iptables` makes the sandbox see another choice
without touching this machine: it copies ``/etc/alternatives`` into the
sandbox's private ``/run``, retargets the links of both groups there the way
``update-alternatives --set`` would, and bind-mounts the copy over
``/etc/alternatives`` in the sandbox's mount namespace only. (A bind mount onto
``/usr/sbin/iptables`` itself would follow the link and cover the shared
``xtables-*-multi`` binary instead.)

:func:`iptables_save` reads the sandbox's rules back in a form fit for
comparisons, and :func:`ruleset_lines` splits such a text into tables.

The functions take any :class:`Sandbox`, the little of a world they use:
:class:`nslab_sandbox.World` is one, and starts with :func:`use_iptables` when
it is asked for a flavour, so this file must not import it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import CommandError, WorldError

#: The flavours :func:`use_iptables` knows, by their update-alternatives suffix.
FLAVOURS = ("nft", "legacy")
#: What ``iptables -V`` prints for each flavour, e.g. "iptables v1.8.9 (legacy)".
_VERSION_MARKERS = {"nft": "(nf_tables)", "legacy": "(legacy)"}
ALTERNATIVES_DIR = "/etc/alternatives"
#: The sandbox's copy of /etc/alternatives, in the world's directory on the sandbox's private /run.
ALTERNATIVES_COPY = "alternatives"
#: update-alternatives groups: iptables must exist, ip6tables is switched when present.
_GROUPS = (("iptables", True), ("ip6tables", False))
# Chain counters "[packets:bytes]" of iptables-save (rule counters only come with -c).
_COUNTERS = re.compile(r"\[\d+:\d+\]")


class Sandbox(Protocol):
    """What these functions need of a world (see :class:`nslab_sandbox.World`)."""

    #: The world's own directory, on the sandbox's private /run.
    WORLD_DIR: str
    #: The flavour chosen last, None while the machine's choice is in force.
    iptables: str | None

    @property
    def running(self) -> bool:
        """Whether the sandbox is up."""

    @property
    def init_pid(self) -> int | None:
        """The sandbox's PID 1 as seen from outside."""

    # pylint: disable-next=too-many-arguments  # World.run's signature
    def run(self, argv: Sequence[str], node: str = "host", *, check: bool = True, timeout: float = 120,
            input: str | None = None, env: Mapping[str, str] | None = None,  # pylint: disable=redefined-builtin
            cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run *argv* in *node* and capture its text output."""

    def sh(self, script: str, node: str = "host", **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a bash script in *node*."""


@dataclass
class _AlternativesGroup:
    """What ``update-alternatives --query NAME`` says about one group."""

    name: str
    link: str = ""
    #: slave name -> the slave's link, e.g. "iptables-save" -> "/usr/sbin/iptables-save".
    slave_links: dict[str, str] = field(default_factory=dict)
    #: alternative path -> {slave name: slave path} for that alternative.
    choices: dict[str, dict[str, str]] = field(default_factory=dict)


def check_flavour(flavour: str) -> str:
    """Return *flavour* if it is one of :data:`FLAVOURS`, else raise ValueError."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown iptables flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    return flavour


def _parse_query(name: str, text: str) -> _AlternativesGroup:
    """Parse the output of ``update-alternatives --query NAME`` (a stable, untranslated format).

    Blocks are separated by blank lines: first the group's ("Name:", "Link:",
    "Slaves:" with the slave links), then one per alternative ("Alternative:",
    "Slaves:" with that alternative's slave targets). Slaves are the indented lines.
    """
    group = _AlternativesGroup(name)
    for block in re.split(r"\n\s*\n", text.strip()):
        fields: dict[str, str] = {}
        slaves: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(" "):
                slave, unused, path = line.strip().partition(" ")
                slaves[slave] = path
            else:
                key, unused, value = line.partition(":")
                fields[key] = value.strip()
        if "Name" in fields:
            group.link = fields.get("Link", "")
            group.slave_links = slaves
        elif "Alternative" in fields:
            group.choices[fields["Alternative"]] = slaves
    if not group.link:
        raise WorldError(f"update-alternatives --query {name} names no link:\n{text}")
    return group


def _query(world: Sandbox, name: str, required: bool) -> _AlternativesGroup | None:
    env = {**os.environ, "LC_ALL": "C"}
    result = world.run(["update-alternatives", "--query", name], check=False, env=env, timeout=30)
    if result.returncode == 127:
        raise WorldError("update-alternatives not found: switching iptables flavours needs the "
                         "Debian/Ubuntu layout (update-alternatives, /etc/alternatives)")
    if result.returncode != 0:
        if not required:
            return None
        raise WorldError(f"update-alternatives knows no {name!r} group, so the iptables flavour cannot be "
                         f"chosen the Debian/Ubuntu way:\n{result.stderr.strip()}")
    return _parse_query(name, result.stdout)


def _retargets(group: _AlternativesGroup, flavour: str, root: str) -> dict[str, str]:
    """Name in /etc/alternatives -> new target, after checking the group's links are as expected."""
    wanted = f"{group.name}-{flavour}"
    chosen = [path for path in group.choices if os.path.basename(path) == wanted]
    if len(chosen) != 1:
        raise WorldError(f"update-alternatives offers no single {wanted!r} for {group.name!r} "
                         f"(alternatives: {', '.join(group.choices) or 'none'}); is the {flavour} "
                         "flavour of iptables installed?")
    slaves = group.choices[chosen[0]]
    if set(slaves) != set(group.slave_links):
        raise WorldError(f"{chosen[0]} provides slaves {sorted(slaves)}, the {group.name!r} group has "
                         f"{sorted(group.slave_links)}: unexpected alternatives layout")
    targets = {group.name: chosen[0], **slaves}
    links = {group.name: group.link, **group.slave_links}
    for name, link in links.items():
        managed = f"{ALTERNATIVES_DIR}/{name}"
        # The command must lead to /etc/alternatives, or covering that
        # directory would change nothing. Read through the sandbox's root:
        # its view is the one that counts.
        if not os.path.islink(root + link) or os.readlink(root + link) != managed:
            raise WorldError(f"{link} is not a symbolic link to {managed}: unexpected alternatives layout, "
                             "cannot switch the iptables flavour")
        if not os.path.islink(root + managed):
            raise WorldError(f"{managed} is not a symbolic link: unexpected alternatives layout, "
                             "cannot switch the iptables flavour")
        if not os.path.exists(root + targets[name]):
            raise WorldError(f"{targets[name]} (the {flavour} {name}) does not exist")
    return targets


def _same_directory(first: str, second: str) -> bool:
    try:
        one, other = os.stat(first), os.stat(second)
    except FileNotFoundError:
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def use_iptables(world: Sandbox, flavour: str) -> None:
    """Make ``iptables``, ``iptables-save`` and ``iptables-restore`` (and the ip6tables
    ones, when present) in *world* the *flavour* ("nft" or "legacy") ones.

    Only the sandbox's mount namespace changes, so every node of the world
    (they all share it) sees the new choice and this machine does not. Can be
    called again to switch back; ``world.iptables`` tells the flavour chosen
    last. Raises :class:`WorldError` where the system
    does not have the Debian/Ubuntu alternatives layout, or where ``iptables``
    on PATH still is not the chosen flavour afterwards.
    """
    check_flavour(flavour)
    if not world.running or world.init_pid is None:
        raise WorldError("world not started")
    root = f"/proc/{world.init_pid}/root"
    if os.path.islink(root + ALTERNATIVES_DIR) or not os.path.isdir(root + ALTERNATIVES_DIR):
        raise WorldError(f"{ALTERNATIVES_DIR} is not a directory: unexpected alternatives layout, "
                         "cannot switch the iptables flavour")
    retargets: dict[str, str] = {}
    names: list[str] = []
    for name, required in _GROUPS:
        group = _query(world, name, required)
        if group is not None:
            retargets.update(_retargets(group, flavour, root))
            names += [group.name, *sorted(group.slave_links)]
    copy = f"{world.WORLD_DIR}/{ALTERNATIVES_COPY}"
    lines = ["set -eu"]
    if not _same_directory(root + ALTERNATIVES_DIR, root + copy):
        # First switch: all of /etc/alternatives is copied, because the bind
        # mount hides the whole directory and other tools (editor, awk...) live there.
        lines += [f"mkdir -p {copy}", f"cp -a {ALTERNATIVES_DIR}/. {copy}/",
                  f"mount --bind {copy} {ALTERNATIVES_DIR}"]
    for name, target in sorted(retargets.items()):
        # Like update-alternatives: a new link renamed over the old one, so
        # that a concurrent `iptables` never finds the name missing. Always
        # written through the copy's own path: never the machine's directory.
        temporary = shlex.quote(f"{copy}/{name}.nslab-new")
        lines += [f"ln -sfn {shlex.quote(target)} {temporary}",
                  f"mv -fT {temporary} {shlex.quote(f'{copy}/{name}')}"]
    try:
        world.sh("\n".join(lines), timeout=30)
    except CommandError as error:
        raise WorldError(f"could not switch the sandbox's {ALTERNATIVES_DIR} to {flavour}: {error}") from error
    if not _same_directory(root + ALTERNATIVES_DIR, root + copy):
        raise WorldError(f"{copy} is not mounted on {ALTERNATIVES_DIR} in the sandbox")
    _check_versions(world, flavour, names)
    world.iptables = flavour


def _check_versions(world: Sandbox, flavour: str, names: list[str]) -> None:
    """Prove that each command, as found on PATH in the sandbox, is the chosen flavour."""
    script = "for name; do printf '%s\\t' \"$name\"; \"$name\" -V 2>&1 | head -n 1 || echo; done"
    output = world.run(["sh", "-c", script, "sh", *names], timeout=30).stdout
    wrong = [line for line in output.splitlines() if _VERSION_MARKERS[flavour] not in line]
    if wrong or len(output.splitlines()) != len(names):
        raise WorldError(f"after switching to {flavour} these commands are not the {flavour} flavour "
                         "(another one earlier on PATH?):\n" + ("\n".join(wrong) or output))


def current_flavour(world: Sandbox, node: str = "host") -> str:
    """The flavour that ``iptables`` runs in *world* ("nft" or "legacy")."""
    version = world.run(["iptables", "-V"], node=node, timeout=30).stdout
    for flavour, marker in _VERSION_MARKERS.items():
        if marker in version:
            return flavour
    raise WorldError(f"cannot tell the flavour of iptables from {version.strip()!r}")


def normalize_save(text: str) -> str:
    """*text* from iptables-save without '#' comment lines and with chain counters set to ``[0:0]``."""
    lines = [_COUNTERS.sub("[0:0]", line) for line in text.splitlines() if not line.startswith("#")]
    return "".join(f"{line}\n" for line in lines if line.strip())


def iptables_save(world: Sandbox, flavour: str | None = None, node: str = "host") -> str:
    """The IPv4 rules of *node*, normalized (see :func:`normalize_save`) for comparisons.

    Read with the sandbox's current ``iptables-save``, or with the *flavour*'s
    own ``iptables-nft-save``/``iptables-legacy-save`` when given.
    """
    command = "iptables-save" if flavour is None else f"iptables-{check_flavour(flavour)}-save"
    return normalize_save(world.run([command], node=node, timeout=60).stdout)


def ruleset_lines(text: str) -> dict[str, list[str]]:
    """Table name -> its lines (chain declarations and rules, in order) of an iptables-save text.

    The ``*table`` and ``COMMIT`` lines and comments are left out; *text* may
    be normalized or not.
    """
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), [])
        elif line.strip() == "COMMIT":
            current = None
        elif current is not None and line.strip() and not line.startswith("#"):
            current.append(line.rstrip())
    return tables
