# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name service for a sandbox world: "the internet's" DNS server and the host's resolver setup.

:class:`ResolverHost` starts a DNS server (:mod:`nslab_sandbox.dns_server`) on
203.0.113.10:53 in the internet node that knows ``example.test`` and ``www.example.test``
(both 203.0.113.10) and answers NXDOMAIN for anything else, and makes the world's host one of
three kinds of hosts, in the world's private /etc (an overlay) and /run only:

``resolved``
    Ubuntu's (and Amazon Linux 2023's) systemd-resolved: ``/etc/resolv.conf`` is a link to
    ``/run/systemd/resolve/stub-resolv.conf`` (``symlink=False``: a plain file with the same
    lines), which says ``nameserver 127.0.0.53``, ``options edns0 trust-ad`` and
    ``search example``; ``/run/systemd/resolve/resolv.conf`` names the upstream server,
    ``nameserver 203.0.113.10`` and ``search example``; a stub on 127.0.0.53:53 in the host
    node relays to 203.0.113.10. No unit, no /run/systemd/system (systemd is not init).
``plain``
    ``/etc/resolv.conf`` says ``nameserver 203.0.113.10`` and ``search example``; no stub.
``dnsmasq``
    A local caching server without systemd-resolved: ``/etc/resolv.conf`` says
    ``nameserver 127.0.0.1``; a stub on 127.0.0.1:53 relays to 203.0.113.10; no
    ``/run/systemd/resolve/resolv.conf``.

Inside a network namespace of the host, 127.0.0.53 and 127.0.0.1 are the namespace's own
loopback, where no stub listens: a namespace that reads the host's ``/etc/resolv.conf`` cannot
resolve on a ``resolved`` or ``dnsmasq`` host, which is what /etc/netns/NAME/resolv.conf fixes.

Every server writes a line per query to its log (:meth:`ResolverHost.queries`). The servers
die with the world at the latest; :meth:`ResolverHost.stop` ends them earlier, and
:meth:`ResolverHost.switch` turns the host into another kind (the internet's server stays).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence

from .errors import WorldError
from .world import ETC_SOURCE, INTERNET_ADDRESS, WORLD_DIR, SandboxProcess, World, _read_until

DNS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dns_server.py")
READY_MARKER = b"nslab-dns-ready"
KINDS = ("resolved", "plain", "dnsmasq")
#: The internet's names: both at the internet node's address, where its HTTP server answers.
RECORDS: Mapping[str, str] = {"example.test": INTERNET_ADDRESS, "www.example.test": INTERNET_ADDRESS}
SEARCH = "example"
RESOLVED_STUB = "127.0.0.53"
DNSMASQ_STUB = "127.0.0.1"
RESOLVED_DIR = "/run/systemd/resolve"
RESOLV_CONF = "/etc/resolv.conf"
#: Where the servers log their queries (the world's /run; the internet's is its node's, same /run).
LOG_DIR = f"{WORLD_DIR}/dns"

STUB_RESOLV_CONF = f"""# This is {RESOLVED_DIR}/stub-resolv.conf managed by man:systemd-resolved(8).
# Do not edit. (nslab sandbox: a systemd-resolved look-alike.)
nameserver {RESOLVED_STUB}
options edns0 trust-ad{{options}}
search {SEARCH}
"""
UPLINK_RESOLV_CONF = f"""# This is {RESOLVED_DIR}/resolv.conf managed by man:systemd-resolved(8).
# (nslab sandbox: the upstream servers of the systemd-resolved look-alike.)
nameserver {INTERNET_ADDRESS}
search {SEARCH}
"""
PLAIN_RESOLV_CONF = f"""# nslab sandbox: a host that asks the upstream server directly
nameserver {INTERNET_ADDRESS}
search {SEARCH}
"""
DNSMASQ_RESOLV_CONF = f"""# nslab sandbox: a local caching server (dnsmasq-like), no systemd-resolved
nameserver {DNSMASQ_STUB}
"""


def _with_options(text: str, options: Sequence[str]) -> str:
    """*text* (a resolv.conf) with *options* added to its options line, or in a new one."""
    if "{options}" in text:
        return text.format(options="".join(f" {option}" for option in options))
    return text + (f"options {' '.join(options)}\n" if options else "")


def start_dns_server(world: World, node: str, bind: str, *, records: Mapping[str, str | Sequence[str]] = (),
                     forward: str | None = None, log: str | None = None,
                     timeout: float = 10.0) -> SandboxProcess:
    """Start :mod:`~nslab_sandbox.dns_server` in *node* of *world* on *bind*:53; return once it listens.

    Its stdin is a pipe held by the returned process object (the lifeline): closing it, or
    ``terminate()``, ends the server; it dies with the world anyway.
    """
    argv = [sys.executable, "-I", DNS_SCRIPT, "--bind", bind]
    if forward:
        argv += ["--forward", forward]
    if log:
        argv += ["--log", log]
    for name, addresses in dict(records).items():
        for address in [addresses] if isinstance(addresses, str) else addresses:
            argv.append(f"{name}={address}")
    proc = world.popen(argv, node=node, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    ready, output = _read_until(proc.stdout.fileno(), READY_MARKER, timeout)
    proc.stdout.close()
    if not ready:
        stop_server(proc)
        raise WorldError(f"DNS server in {node} on {bind} did not come up: {argv}\n"
                         + output.decode("utf-8", "replace").strip())
    return proc


def stop_server(proc: SandboxProcess) -> None:
    """End a server of :func:`start_dns_server` (its lifeline closed; then SIGTERM, then SIGKILL)
    and reap it."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
    for signal_it in (None, proc.terminate, proc.kill):
        if signal_it is not None:
            signal_it()
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue
    raise WorldError(f"DNS server (nsenter PID {proc.pid}) did not exit after SIGKILL")


def top_mount(world: World, path: str) -> tuple[str, str] | None:
    """(file system type, source) of the mount on top at *path* in the world, or None where
    nothing is mounted on *path* itself."""
    found = None
    with open(f"/proc/{world.init_pid}/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields, unused_dash, rest = line.partition(" - ")
            if fields.split()[4] == path:
                found = tuple(rest.split()[:2])
    return found  # type: ignore[return-value]  # two strings


def _replace_file(path: str, text: str | None, link: str | None = None) -> str:
    """Shell lines that make *path* a file with *text* (or a link to *link*, or nothing when both
    are None), in this mount namespace only: a file mounted over *path* (the world keeps this
    machine's mounts under /etc read-only) is unmounted first."""
    quoted = shlex.quote(path)
    lines = [f"umount {quoted} 2>/dev/null || :", f"rm -f {quoted}"]
    if link is not None:
        lines.append(f"ln -s {shlex.quote(link)} {quoted}")
    elif text is not None:
        lines += [f"mkdir -p {shlex.quote(os.path.dirname(path))}", f"cat >{quoted} <<'NSLAB_EOF'\n{text}NSLAB_EOF"]
    return "\n".join(lines)


class ResolverHost:
    """The world's host as a ``resolved``, ``plain`` or ``dnsmasq`` host; see the module docstring.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Only the world's /etc
    (an overlay: never this machine's, which :meth:`start` checks) and /run are written.
    """

    def __init__(self, world: World, kind: str = "resolved", *, symlink: bool = True,
                 records: Mapping[str, str | Sequence[str]] | None = None, options: Sequence[str] = ()) -> None:
        """*symlink*: the ``resolved`` host's /etc/resolv.conf is a link (else a file); *records*:
        the internet's names instead of :data:`RECORDS`; *options*: more resolver options of
        /etc/resolv.conf (``timeout:1``, ``attempts:1`` for fast failures)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.world = world
        self.kind = kind
        self.symlink = symlink
        self.records = dict(RECORDS if records is None else records)
        self.options = list(options)
        self.internet: SandboxProcess | None = None
        self.stub: SandboxProcess | None = None

    def __enter__(self) -> ResolverHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ResolverHost:
        """Start the internet's server and make the host a ``kind`` host."""
        if not self.world.running:
            raise WorldError("the world is not running")
        mounted = top_mount(self.world, "/etc")
        if mounted != ("overlay", ETC_SOURCE):
            # Never write this machine's /etc: the world must have its overlay.
            raise WorldError(f"/etc in the world is {mounted}, not the world's overlay: refusing to write it")
        self.world.run(["mkdir", "-p", LOG_DIR], timeout=30)
        try:
            self.internet = start_dns_server(self.world, "internet", INTERNET_ADDRESS, records=self.records,
                                             log=self.log_path("internet"))
            self.switch(self.kind)
        except BaseException:
            self.stop()
            raise
        return self

    def log_path(self, server: str) -> str:
        """The query log of *server*: "internet" or "stub"."""
        return f"{LOG_DIR}/{server}.log"

    def switch(self, kind: str, *, symlink: bool | None = None) -> None:
        """Make the host a *kind* host now (files rewritten, the stub moved or stopped)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if symlink is not None:
            self.symlink = symlink
        if self.stub is not None:
            stop_server(self.stub)
            self.stub = None
        stub_file = f"{RESOLVED_DIR}/stub-resolv.conf"
        if kind == "resolved":
            stub_text = _with_options(STUB_RESOLV_CONF, self.options)
            script = [_replace_file(stub_file, stub_text),
                      _replace_file(f"{RESOLVED_DIR}/resolv.conf", UPLINK_RESOLV_CONF),
                      _replace_file(RESOLV_CONF, stub_text, link=f"..{stub_file}" if self.symlink else None)]
        else:
            text = PLAIN_RESOLV_CONF if kind == "plain" else DNSMASQ_RESOLV_CONF
            script = [f"rm -rf {RESOLVED_DIR}", f"rmdir {os.path.dirname(RESOLVED_DIR)} 2>/dev/null || :",
                      _replace_file(RESOLV_CONF, _with_options(text, self.options))]
        self.world.sh("set -e\n" + "\n".join(script), timeout=30)
        stub = {"resolved": RESOLVED_STUB, "dnsmasq": DNSMASQ_STUB}.get(kind)
        if stub:
            self.stub = start_dns_server(self.world, "host", stub, forward=INTERNET_ADDRESS, log=self.log_path("stub"))
        self.kind = kind

    @property
    def nameserver(self) -> str:
        """The address the host's /etc/resolv.conf names."""
        return {"resolved": RESOLVED_STUB, "dnsmasq": DNSMASQ_STUB}.get(self.kind, INTERNET_ADDRESS)

    def queries(self, server: str = "internet") -> list[str]:
        """The lines *server* ("internet" or "stub") logged: ``CLIENT NAME TYPE RESULT``."""
        result = self.world.run(["cat", self.log_path(server)], check=False, timeout=30)
        return result.stdout.splitlines() if result.returncode == 0 else []

    def stop(self) -> None:
        """End the servers (the files stay as they are). Idempotent."""
        for attribute in ("stub", "internet"):
            proc = getattr(self, attribute)
            setattr(self, attribute, None)
            if proc is not None:
                stop_server(proc)
