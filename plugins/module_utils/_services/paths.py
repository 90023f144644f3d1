# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a service of netns_service keeps its files: record, log, own directory, unit file.

Functions, not constants, read the directories, so tests can point them elsewhere.
"""

STATE_DIR = '/run/nslab/services'
UNIT_DIR = '/run/systemd/system'
SHELL = '/bin/sh'


def record_path(name: str) -> str:
    return '%s/%s.json' % (STATE_DIR, name)


def log_path(name: str) -> str:
    return '%s/%s.log' % (STATE_DIR, name)


def default_chdir(name: str) -> str:
    """The default working directory: empty, so a file server started without chdir serves nothing."""
    return '%s/%s.d' % (STATE_DIR, name)


def unit_name(name: str) -> str:
    return 'nslab-%s.service' % name


def unit_path(name: str) -> str:
    return '%s/%s' % (UNIT_DIR, unit_name(name))
