# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interpreter Ansible runs on a fleet host in the benchmark's profiled runs: it meters the module.

    module_meter.py REAL_PYTHON LOG_DIR [ARG...]

bench/fleet_bench.py points ``ansible_python_interpreter`` at a two-line shell script that
execs this file with ``python -IS``. With SSH pipelining Ansible writes the module's AnsiballZ
payload to the interpreter's standard input; this reads all of it (so the time until its end
is the payload's transfer as the host sees it), hands it to REAL_PYTHON on a memfd as standard
input (Python reads a script from a pipe whole before it runs it, so that changes nothing for
the module), waits for it with wait4 and appends one JSON line to LOG_DIR/HOSTNAME.jsonl:
times (time.time(), the controller's clock too), the module's name, the payload's size, and
the module process's rusage, which covers the commands it ran and waited for (iptables-save,
ip...): user and system CPU seconds, and the peak RSS of the largest of them. It keeps one
copy of each module's payload there too (payload-MODULE.bin), which the benchmark sends to the
hosts again over SSH on its own to time the transfer.
"""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import sys
import time

MODULE_NAME = re.compile(rb"\nansible_module='([^']*)'")


def _started_seconds_ago() -> float:
    """How long ago this process started (exec of the shell script; clock ticks, 10 ms)."""
    with open("/proc/self/stat", encoding="ascii") as handle:
        stat = handle.read()
    start_ticks = int(stat[stat.rfind(")") + 2:].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    started = time.time()
    age = _started_seconds_ago()
    real, log_dir, args = argv[1], argv[2], argv[3:]
    chunks = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    payload = b"".join(chunks)
    received = time.time()
    memfd = os.memfd_create("ansiballz")
    view = memoryview(payload)
    while view:
        view = view[os.write(memfd, view):]
    os.lseek(memfd, 0, os.SEEK_SET)
    launched = time.time()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child execs)
        try:
            os.dup2(memfd, 0)
            os.execv(real, [real, *args])
        finally:
            os._exit(127)  # pylint: disable=protected-access
    os.close(memfd)
    _pid, status, usage = os.wait4(pid, 0)
    finished = time.time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    match = MODULE_NAME.search(payload)
    record = {
        "host": socket.gethostname(),
        "module": match.group(1).decode() if match else None,
        "payload_bytes": len(payload),
        "spawned": started - age,
        "started": started,
        "received": received,
        "launched": launched,
        "finished": finished,
        "module_user_s": usage.ru_utime,
        "module_sys_s": usage.ru_stime,
        "module_maxrss_kib": usage.ru_maxrss,
        "meter_cpu_s": own.ru_utime + own.ru_stime,
        "exit": status,
    }
    with open(os.path.join(log_dir, f"{record['host']}.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    if record["module"]:
        # One copy of each module's payload, for the benchmark to send again over SSH alone.
        kept = os.path.join(log_dir, f"payload-{record['module']}.bin")
        if not os.path.exists(kept):
            with open(f"{kept}.{os.getpid()}", "wb") as handle:
                handle.write(payload)
            os.replace(f"{kept}.{os.getpid()}", kept)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
