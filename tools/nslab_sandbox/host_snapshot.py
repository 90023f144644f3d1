# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot of this machine's own network state, to prove tests left it alone.

:func:`snapshot` reads links, addresses, routes, policy rules, firewall rules
(iptables and ip6tables, both backends, and nft where installed), the named
network namespaces in ``/run/netns`` and the forwarding switches of the network
namespace it runs in, and keeps only what does not change on its own (no
address lifetimes, counters or expiry times). Two snapshots compare with
``==``; :func:`diff` tells what differs.

Commands that are missing count as printing nothing, so installing iptables
between two snapshots is not a difference while a new rule is.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from typing import Any

Snapshot = dict[str, Any]

_TIMEOUT = 30
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
# Keys of `ip -j` objects whose values change by themselves.
_VOLATILE_KEYS = frozenset({
    "valid_life_time", "preferred_life_time", "expires", "stats", "stats64", "age", "used",
    "lastused", "updated",
})
_IP_SECTIONS = {
    "link": ["-j", "link", "show"],
    "addr": ["-j", "addr", "show"],
    "route4": ["-j", "-4", "route", "show", "table", "all"],
    "route6": ["-j", "-6", "route", "show", "table", "all"],
    "rule4": ["-j", "-4", "rule", "show"],
    "rule6": ["-j", "-6", "rule", "show"],
}
_FIREWALL_COMMANDS = {
    "iptables-nft": ["iptables-nft-save"],
    "iptables-legacy": ["iptables-legacy-save"],
    "ip6tables-nft": ["ip6tables-nft-save"],
    "ip6tables-legacy": ["ip6tables-legacy-save"],
    "nft": ["nft", "list", "ruleset"],
}
_SYSCTLS = {
    "ipv4_forward": "/proc/sys/net/ipv4/ip_forward",
    "ipv6_forwarding": "/proc/sys/net/ipv6/conf/all/forwarding",
}
# "[123:4567]" chain/rule counters of iptables-save; "counter packets 1 bytes 2"
# and "expires 3s" of nft.
_IPTABLES_COUNTERS = re.compile(r"\[\d+:\d+\]")
_NFT_VOLATILE = re.compile(r"(counter packets \d+ bytes \d+|expires \S+)")


class SnapshotError(RuntimeError):
    """A command that a snapshot needs failed."""


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=_SBIN_PATH)


def _run(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise SnapshotError(f"{argv} did not finish within {_TIMEOUT} s") from error
    if result.returncode != 0:
        raise SnapshotError(f"{argv} failed with exit code {result.returncode}:\n"
                            f"{result.stdout}{result.stderr}")
    return result.stdout


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_volatile(item) for key, item in value.items()
                if key not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(item) for item in value]
    return value


def _ip_json(ip: str, args: list[str]) -> list[Any]:
    text = _run([ip, *args]).strip()
    # Older iproute2 prints nothing at all for an empty JSON list.
    return _strip_volatile(json.loads(text)) if text else []


def _firewall_text(argv: list[str]) -> str | None:
    """Normalised ruleset, "" when the tool is missing, None when it cannot read the rules."""
    path = _which(argv[0])
    if path is None:
        return ""
    try:
        result = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=_TIMEOUT,
                                check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise SnapshotError(f"{argv} did not finish within {_TIMEOUT} s") from error
    if result.returncode != 0:
        # E.g. the legacy backend without its kernel module: same answer each time.
        return None
    lines = []
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            continue
        line = _NFT_VOLATILE.sub("", _IPTABLES_COUNTERS.sub("", line)).rstrip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def snapshot() -> Snapshot:
    """Network state of the namespace this process runs in (normally: the machine's own)."""
    ip = _which("ip")
    if ip is None:
        raise SnapshotError("'ip' (iproute2) not found")
    state: Snapshot = {name: _ip_json(ip, args) for name, args in _IP_SECTIONS.items()}
    for name, argv in _FIREWALL_COMMANDS.items():
        state[f"firewall:{name}"] = _firewall_text(argv)
    state["run_netns"] = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else None
    for name, path in _SYSCTLS.items():
        state[f"sysctl:{name}"] = _read(path)
    return state


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, list):
        return [json.dumps(item, sort_keys=True) for item in value]
    return [json.dumps(value, sort_keys=True)]


def diff(before: Snapshot, after: Snapshot) -> str:
    """Readable account of what differs between two snapshots ("" when nothing does)."""
    parts = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, (list, str)) and isinstance(new, (list, str)):
            lines = difflib.unified_diff(_lines(old), _lines(new), "before", "after", lineterm="", n=1)
            body = "\n".join(lines)
        else:
            body = f"before: {json.dumps(old)}\nafter:  {json.dumps(new)}"
        parts.append(f"=== {key} ===\n{body}")
    return "\n".join(parts)
