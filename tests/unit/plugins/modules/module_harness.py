# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a module's main() in-process with task arguments, as Ansible's own module unit tests do.

The arguments reach AnsibleModule the way ansible-core's unit tests pass them: through
``ansible.module_utils.testing.patch_module_args`` where it exists (ansible-core 2.19 and
later), else by setting ``basic._ANSIBLE_ARGS`` to the JSON a controller would send (2.15 to
2.18 read it from there). exit_json and fail_json raise instead of printing and exiting, and
the invocation is not logged to syslog or the journal.
"""


import contextlib
import json
from unittest import mock

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    patch_module_args = None


class ModuleEnded(Exception):
    """main() ended the module; ``result`` is what it returned, with ``failed`` set."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(self, **result):
    raise ModuleEnded(dict(result, failed=False))


def _fail_json(self, msg, **result):
    raise ModuleEnded(dict(result, msg=msg, failed=True))


@contextlib.contextmanager
def module_args(args):
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    serialized = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')
    with mock.patch.object(basic, '_ANSIBLE_ARGS', serialized):
        yield


def run_module(main, args, check_mode=False):
    """Run ``main()`` with the task arguments ``args``; the result dict it ended with."""
    args = dict(args, _ansible_check_mode=check_mode)
    with module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json,
                                                _log_invocation=lambda self: None):
        try:
            main()
        except ModuleEnded as ended:
            return ended.result
    raise AssertionError('main() returned without exit_json or fail_json')


class Recorder:
    """A stand-in for a converge function: records its calls, returns ``result`` or raises ``error``."""

    def __init__(self, result=None, error=None):
        self.result = dict(changed=True, commands=['the command']) if result is None else result
        self.error = error
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        if self.error is not None:
            raise self.error
        return dict(self.result)


class FakeNetlink:
    """A Netlink that opens nothing: what a netlink module holds while its converge runs."""

    made = []

    def __init__(self, views=None):
        self.views = dict(views or {})
        FakeNetlink.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def read_views(self, names, links_only=False):
        return {name: self.views[name] for name in names}


def patch_netlink_converge(monkeypatch, module, converge_name):
    """Make ``module``'s netlink runs open a FakeNetlink (pyroute2 taken as present) and
    replace its converge function with a Recorder, which is returned."""
    from ansible_collections.nslab.net.plugins.module_utils._netlink import session  # pylint: disable=import-outside-toplevel
    FakeNetlink.made = []
    monkeypatch.setattr(session, 'Netlink', FakeNetlink)
    monkeypatch.setattr(session, 'PYROUTE2_IMPORT_ERROR', None)
    recorder = Recorder()
    monkeypatch.setattr(module, converge_name, recorder)
    return recorder
