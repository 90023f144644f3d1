# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adapters' boundaries, faked for unit tests: recorded command output, a Netlink of views.

``FakeModule`` is what the backends and flows use of AnsibleModule; its ``run_command``
answers each argument vector from a table (recorded outputs from ``fixtures/``, see the
README there) and fails the test on any command nobody expected. ``FakeNetlink`` hands out
NamespaceViews and records the steps it is asked to apply: no kernel semantics are imitated,
the next read returns whatever the test says the kernel would show. ``isolate_firewall``
points the kernel settings, the sysctl ledger and the xtables lock at a temporary directory.
"""

from __future__ import annotations


import functools
import inspect
import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._firewall import runner, sysctls
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctl_ledger import load_ledger, save_ledger
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import StepFailed
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
_EXIT_STATUS = re.compile(r'^## Exit status: (\d+)$', re.M)
_RUN_COMMAND = inspect.signature(AnsibleModule.run_command)

IPTABLES = '/usr/sbin/iptables'
SAVE = '/usr/sbin/iptables-nft-save'
RESTORE = '/usr/sbin/iptables-nft-restore'
NFT_BINARIES = {'iptables': IPTABLES, 'iptables-nft-save': SAVE, 'iptables-nft-restore': RESTORE}
SYSTEMCTL = '/usr/bin/systemctl'
JOURNALCTL = '/usr/bin/journalctl'


def _raw(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def recorded(name):
    """The recorded text of fixture ``name`` (a path under fixtures/), without its ``## `` header."""
    return ''.join(line for line in _raw(name).splitlines(True) if not line.startswith('## '))


def answer(name):
    """``(rc, stdout, stderr)`` of a recorded command: the exit status from the header, the
    text on the stream the file name says (``*.stderr.txt``, else stdout)."""
    found = _EXIT_STATUS.search(_raw(name))
    rc = int(found.group(1)) if found else 0
    text = recorded(name)
    return (rc, '', text) if name.endswith('.stderr.txt') else (rc, text, '')


class FakeModule:
    """``run_command``, ``get_bin_path``, ``check_mode`` and ``warn`` of a module.

    ``commands`` maps argument vectors (tuples) to ``(rc, out, err)``, to a list of them
    (answered in turn), or to a callable ``(argv, kwargs) -> (rc, out, err)``.
    """

    def __init__(self, commands=None, binaries=None, check_mode=False):
        self.commands = dict(commands or {})
        self.binaries = dict(binaries or {})
        self.check_mode = check_mode
        self.calls = []
        self.warnings = []

    def get_bin_path(self, arg, required=False, opt_dirs=None):
        path = self.binaries.get(arg)
        if path is None and required:
            raise AssertionError('the test gave no path for the required binary %s' % arg)
        return path

    def run_command(self, args, **kwargs):
        # A keyword the real run_command lacks would be a TypeError there too.
        _RUN_COMMAND.bind(None, args, **kwargs)
        argv = tuple(args)
        self.calls.append((argv, kwargs))
        if argv not in self.commands:
            raise AssertionError('unexpected command %r' % (argv,))
        result = self.commands[argv]
        if isinstance(result, list):
            result = result.pop(0)
        if callable(result):
            result = result(argv, kwargs)
        return result

    def warn(self, warning):
        self.warnings.append(warning)

    def argvs(self):
        return [argv for argv, unused in self.calls]

    def stdin_of(self, argv):
        """What each call of ``argv`` was given on standard input."""
        return [kwargs.get('data') for called, kwargs in self.calls if called == tuple(argv)]


def nft_module(save, check_mode=False, restore=(0, '', ''), binaries=None):
    """A host whose iptables is the nft flavour (recorded) and whose rules are fixture ``save``."""
    commands = {
        (IPTABLES, '-V'): answer('iptables-nft/iptables-V.nft.txt'),
        (SAVE,): answer(save) if save.endswith('.stderr.txt') else (0, recorded(save), ''),
        (RESTORE, '--noflush'): restore,
    }
    return FakeModule(commands, binaries if binaries is not None else NFT_BINARIES, check_mode)


class FirewallHost:
    """Where the firewall flow's files are in a test: /proc/sys, the ledger, the xtables lock."""

    def __init__(self, root):
        self.proc_sys = os.path.join(root, 'proc-sys')
        self.ledger_path = os.path.join(root, 'run-nslab', 'sysctls.json')
        self.lock_path = os.path.join(root, 'xtables.lock')

    def set_sysctl(self, name, value):
        path = os.path.join(self.proc_sys, *[part.replace('/', '.') for part in name.split('.')])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('%s\n' % value)

    def sysctl(self, name):
        path = os.path.join(self.proc_sys, *[part.replace('/', '.') for part in name.split('.')])
        with open(path, encoding='utf-8') as handle:
            return handle.read().strip()

    def ledger(self):
        return load_ledger(self.ledger_path)

    def save_ledger(self, ledger):
        save_ledger(ledger, self.ledger_path)


def isolate_firewall(root, monkeypatch):
    """Point the firewall flow's kernel settings, ledger and lock below ``root``.

    The ledger functions take their path as a default argument, bound when sysctl_ledger was
    imported, so the runner's own references to them are replaced, not LEDGER_PATH.
    """
    host = FirewallHost(str(root))
    os.makedirs(host.proc_sys)
    monkeypatch.setattr(sysctls, 'PROC_SYS', host.proc_sys)
    monkeypatch.setattr(runner, 'load_ledger', functools.partial(load_ledger, host.ledger_path))
    monkeypatch.setattr(runner, 'save_ledger', functools.partial(save_ledger, path=host.ledger_path))
    monkeypatch.setenv('XTABLES_LOCKFILE', host.lock_path)
    return host


class FakePacketSocket:
    """A raw AF_PACKET socket bound to an interface whose MAC is 02:00:00:00:00:01."""

    MAC = b'\x02\x00\x00\x00\x00\x01'

    def __init__(self, netns, sent):
        self.netns = netns
        self.sent = sent
        self.interface = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def bind(self, address):
        self.interface = address[0]

    def getsockname(self):
        return (self.interface, 0x0806, 0, 1, self.MAC)

    def send(self, frame):
        self.sent.append((self.netns, self.interface, frame))
        return len(frame)


class FakeNetlink:
    """The surface of ``adapter.Netlink`` the flows use.

    ``reads`` are the kernel's states in turn, each ``{netns: NamespaceView}``: every
    read_views call returns copies from the next one (the last one stays), a named namespace
    it lacks as not existing. ``apply`` records the steps; with ``fail_at`` it raises
    StepFailed at that step, as the adapter does when the kernel refuses one.
    """

    def __init__(self, *reads, nsids=None, fail_at=None, error='Operation not permitted'):
        self.reads = list(reads) or [{}]
        self.known_nsids = dict(nsids or {})
        self.fail_at = fail_at
        self.error = error
        self.read_calls = []
        self.nsid_calls = []
        self.applied = []
        self.entered = 0
        #: ``(netns, interface, frame)`` of every packet the flows sent.
        self.announcements = []

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *exc_info):
        return False

    def read_views(self, names, links_only=False):
        names = list(names)
        self.read_calls.append((names, links_only))
        state = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        views = {}
        for name in names:
            view = state.get(name)
            views[name] = view.copy() if view is not None else NamespaceView(name, exists=name is None)
        return views

    def nsids(self, keys):
        keys = list(keys)
        self.nsid_calls.append(keys)
        return {key: self.known_nsids[key] for key in keys if key in self.known_nsids}

    def opened_in(self, netns, factory):
        """A packet socket that records what it sends in ``announcements`` (the factory, a
        real socket's, is not called)."""
        return FakePacketSocket(netns, self.announcements)

    def apply(self, steps):
        steps = list(steps)
        if self.fail_at is not None:
            raise StepFailed(steps[self.fail_at], self.error, steps[:self.fail_at])
        self.applied.append(steps)
