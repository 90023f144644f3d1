# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark runs, at its small size: a smoke test that it works, never a timing assertion.

bench/lab_bench.py checks after each build that the kernel holds the whole lab and that the
re-run changed nothing, so a passing run also says both sides built what they claim.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_runs import REPO, ansible_env

# Slow: the benchmarks run, not the lab; the everyday tier leaves them to CI.
pytestmark = [pytest.mark.system, pytest.mark.slow]


def test_bench_small_size_runs_and_writes_its_results(world, tmp_path):
    output = tmp_path / 'bench.json'
    world.run([sys.executable, os.path.join(REPO, 'bench', 'lab_bench.py'), '--sizes', 'small',
               '--repetitions', '1', '--output', str(output)], env=ansible_env(), timeout=600)
    results = json.loads(output.read_text())
    (size,) = results['sizes']
    assert (size['namespaces'], size['ports']) == (2, 1)
    assert set(size['role']) == {'converge', 'rerun', 'teardown'}
    assert set(size['shell']) == {'up', 'down'}
    assert all(phase['median'] > 0 for side in ('role', 'shell') for phase in size[side].values())
    assert size['peak_rss_mib'] > 0
