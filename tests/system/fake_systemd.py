# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host whose disk outlives its sandbox worlds, to reboot it: the restore at boot's tests.

A sandbox world (:mod:`nslab_sandbox.world`) has its own /run and an /etc overlay that goes
with it, but this machine's /var, so lab_network would write the restore files into this
machine's /var/lib, and what it writes in /etc would not survive a reboot. :class:`DiskHost`
gives each of its worlds a *disk* instead: scratch directories of the test bind-mounted over
``/var/lib`` and ``/etc/systemd/system`` inside the world's mount namespace (private: the
mounts do not reach this machine), and an overlay over the world's /etc whose upper folder is
on the disk (so ``/etc/netns/NAME/`` written before a reboot is there after it, and is absent
until something makes it, as on a real disk), which outlive the world. Where asked, the world
looks like a host where systemd is init: the directory ``/run/systemd/system`` (what
sd_booted(3) tests) in its private /run, and a ``systemctl`` first on PATH that only logs its
arguments to the disk.

A *reboot* stops the world (namespaces, links, rules, processes and /run go) and starts a
new one on the same disk; :meth:`DiskHost.exec_start` then runs the ExecStart of the stored
template unit for a lab as systemd would: the command line of the unit file with ``%i``
replaced, from ``/``, with systemd's environment (its PATH, nothing else).
"""

from __future__ import annotations

import os
import shlex
import stat

from ansible_runs import ansible_env
from nslab_sandbox import World
from nslab_sandbox.world import private_etc_script

FAKE_SYSTEMCTL = '''#!/bin/sh
# What systemctl was asked, and nothing done: no systemd runs in a sandbox world.
printf '%%s\\n' "$*" >>%s
'''
#: The PATH systemd gives a service (without the fake systemctl's directory in front).
SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
TEMPLATE = 'nslab-restore@.service'
WANTS = 'multi-user.target.wants'
#: The mount points the disk covers, inside the world.
VAR_LIB = '/var/lib'
UNIT_DIR = '/etc/systemd/system'
NETNS_ETC = '/etc/netns'
#: What must never appear on this machine itself.
REAL_TEMPLATE = os.path.join(UNIT_DIR, TEMPLATE)
REAL_STATE_DIR = os.path.join(VAR_LIB, 'nslab')


def instance(lab):
    return 'nslab-restore@%s.service' % lab


class DiskHost:
    """A host of sandbox worlds that share the disk ``disk`` (a scratch directory of the test).

    ``systemd``: whether systemd looks like init in its worlds. ``world`` is the running one.
    Paths named here are this process's view of the disk (the world sees them under /var/lib
    and /etc/systemd/system).
    """

    def __init__(self, disk, systemd=True):
        self.disk = str(disk)
        self.systemd = systemd
        self.var_lib = os.path.join(self.disk, 'var-lib')
        self.units = os.path.join(self.disk, 'systemd')
        #: The upper folder of the overlay over /etc: what the host wrote in /etc (but its units).
        self.etc = os.path.join(self.disk, 'etc')
        self.etc_work = os.path.join(self.disk, 'etc-work')
        self.log = os.path.join(self.disk, 'systemctl.log')
        #: The fake systemctl's directory (beside the disk: the host's disk holds no systemctl).
        self.bin = os.path.join(os.path.dirname(self.disk), os.path.basename(self.disk) + '-bin')
        for path in (self.var_lib, self.units, self.etc, self.etc_work, self.bin):
            os.makedirs(path, exist_ok=True)
        systemctl = os.path.join(self.bin, 'systemctl')
        with open(systemctl, 'w', encoding='utf-8') as handle:
            handle.write(FAKE_SYSTEMCTL % shlex.quote(self.log))
        os.chmod(systemctl, 0o755)
        # The modes of the real directories: what the module finds on a host.
        os.chmod(self.var_lib, 0o755)
        os.chmod(self.units, 0o755)
        self.world = None
        self.boots = 0

    # -- paths on the disk ----------------------------------------------------------------------

    @property
    def state_dir(self):
        return os.path.join(self.var_lib, 'nslab')

    @property
    def restore_dir(self):
        return os.path.join(self.state_dir, 'restore')

    @property
    def template(self):
        return os.path.join(self.units, TEMPLATE)

    def declaration(self, lab='lab'):
        return os.path.join(self.restore_dir, '%s.json' % lab)

    def code(self, lab='lab'):
        return os.path.join(self.restore_dir, '%s.pyz' % lab)

    def link(self, lab='lab'):
        return os.path.join(self.units, WANTS, instance(lab))

    # -- lifetime -----------------------------------------------------------------------------

    def boot(self):
        """Start a world on the disk; returns it."""
        assert self.world is None, 'already booted'
        world = World().start()
        try:
            world.sh(self._setup_script(), timeout=30)
        except BaseException:
            world.stop()
            raise
        self.world = world
        self.boots += 1
        return world

    def shutdown(self):
        world, self.world = self.world, None
        if world is not None:
            world.stop()

    def reboot(self):
        self.shutdown()
        return self.boot()

    def __enter__(self):
        self.boot()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()

    def _setup_script(self):
        lines = [
            'set -eu',
            # unshare made the world's mounts private already; say so again, so that nothing
            # mounted here can propagate to this machine whatever unshare's default.
            'mount --make-rprivate /',
            # The disk's /etc over the world's: it keeps /etc/netns across reboots.
            private_etc_script('/run/nslab-disk-etc', read_only_submounts=False, upper=self.etc, work=self.etc_work,
                               index_off=True),
            'mount --bind %s %s' % (shlex.quote(self.var_lib), VAR_LIB),
            'mount --bind %s %s' % (shlex.quote(self.units), UNIT_DIR),
        ]
        if self.systemd:
            lines.append('mkdir -p /run/systemd/system')
        return '\n'.join(lines) + '\n'

    # -- what runs on it ----------------------------------------------------------------------

    def env(self):
        """ansible-playbook's environment in the world: the fake systemctl first on PATH."""
        env = ansible_env()
        env['PATH'] = self.bin + os.pathsep + env['PATH']
        return env

    def exec_start(self, lab='lab', timeout=120):
        """Run the ExecStart of ``lab``'s instance of the stored template as systemd would."""
        return self.world.run(['env', '-i', 'PATH=%s:%s' % (self.bin, SYSTEMD_PATH), 'LANG=C.UTF-8']
                              + self.exec_start_argv(lab), check=False, cwd='/', timeout=timeout)

    def exec_start_argv(self, lab='lab'):
        with open(self.template, encoding='utf-8') as handle:
            lines = [line[len('ExecStart='):] for line in handle.read().splitlines() if line.startswith('ExecStart=')]
        assert len(lines) == 1, lines
        return shlex.split(lines[0].replace('%i', lab))

    def systemctl_calls(self):
        """The argument lists the fake systemctl was called with, in order."""
        try:
            with open(self.log, encoding='utf-8') as handle:
                return handle.read().splitlines()
        except FileNotFoundError:
            return []

    def daemon_reloads(self):
        return self.systemctl_calls().count('daemon-reload')

    def files(self):
        """{path relative to the disk: (kind, mode, uid, gid, inode, mtime_ns, link target)} of
        everything on the disk but the systemctl log."""
        found = {}
        for top in (self.var_lib, self.units):
            for root, dirs, names in os.walk(top):
                for name in dirs + names:
                    path = os.path.join(root, name)
                    info = os.lstat(path)
                    target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
                    kind = 'link' if target is not None else 'dir' if stat.S_ISDIR(info.st_mode) else 'file'
                    found[os.path.relpath(path, self.disk)] = (kind, stat.S_IMODE(info.st_mode), info.st_uid,
                                                               info.st_gid, info.st_ino, info.st_mtime_ns, target)
        return found


def read(path, mode='r'):
    with open(path, mode) as handle:  # pylint: disable=unspecified-encoding  # text or bytes
        return handle.read()


def machine_view():
    """What this machine itself shows of the restore files and of mounts on the disks' mount
    points: equal before and after the tests, and no restore file in it."""
    wants = os.path.join(UNIT_DIR, WANTS)
    links = sorted(name for name in os.listdir(wants) if name.startswith('nslab-restore@')) if os.path.isdir(wants) else []
    with open('/proc/self/mountinfo', encoding='utf-8') as handle:
        mounts = sorted(' '.join(line.split()[3:5]) for line in handle
                        if line.split()[4] in (VAR_LIB, UNIT_DIR, NETNS_ETC))
    return dict(template=os.path.lexists(REAL_TEMPLATE), state_dir=os.path.lexists(REAL_STATE_DIR), links=links,
                mounts=mounts)
