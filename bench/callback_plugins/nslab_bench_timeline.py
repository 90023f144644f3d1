# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When each task started and when each host was queued and answered, for bench/fleet_bench.py.

The fleet benchmark enables it in its profiled runs only (ANSIBLE_CALLBACKS_ENABLED, with
ANSIBLE_CALLBACK_PLUGINS naming this directory) and reads the JSON it writes at the end of
the run to the file NSLAB_BENCH_TIMELINE names. Every time is time.time() in the controller's
main process, the clock the benchmark's wrapper interpreter reads on the hosts (one kernel):
``v2_runner_on_start`` is sent there just before the host's worker is forked, and a result
arrives when the strategy reads it from the workers' queue.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: nslab_bench_timeline
type: aggregate
short_description: times of tasks and host results, for the nslab.net fleet benchmark
description:
  - Writes a JSON timeline to the file named by the environment variable NSLAB_BENCH_TIMELINE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "nslab_bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("NSLAB_BENCH_TIMELINE")
        self._events: dict = {"playbook_start": None, "stats": None, "tasks": []}
        self._task: dict | None = None

    def v2_playbook_on_start(self, playbook) -> None:  # noqa: ANN001  Ansible's signature
        self._events["playbook_start"] = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:  # noqa: ANN001
        self._task = {"name": task.get_name(), "action": task.action, "start": time.time(), "hosts": {}}
        self._events["tasks"].append(self._task)

    def _host(self, host_name: str) -> dict:
        assert self._task is not None
        return self._task["hosts"].setdefault(host_name, {})

    def v2_runner_on_start(self, host, task) -> None:  # noqa: ANN001
        if self._task is not None:
            self._host(host.get_name())["queued"] = time.time()

    def _result(self, result, status: str) -> None:  # noqa: ANN001
        if self._task is not None:
            entry = self._host(result._host.get_name())  # pylint: disable=protected-access
            entry["done"] = time.time()
            entry["status"] = status

    def v2_runner_on_ok(self, result) -> None:  # noqa: ANN001
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:  # noqa: ANN001
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:  # noqa: ANN001
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:  # noqa: ANN001
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:  # noqa: ANN001
        self._events["stats"] = time.time()
        if self._path:
            with open(self._path, "w", encoding="utf-8") as handle:
                json.dump(self._events, handle)
