# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet benchmark runs, at its smallest size: a smoke test that it works, never a timing assertion.

bench/fleet_bench.py starts its own sandbox world and fleet (as the overlay tests do), checks
every host's kernel after each build and teardown and that each re-run changed nothing, and
stops at the first check that fails; so a run that writes its results passed them all. This
test also reads the checks back from the results, with the profiled round's figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_runs import REPO

# Slow: the benchmarks run, not the lab; the everyday tier leaves them to CI.
pytestmark = [pytest.mark.system, pytest.mark.slow]

HOSTS = (1, 2)
PHASES = ('converge', 'rerun', 'teardown')


def test_fleet_bench_smallest_size_runs_checks_and_writes_its_results(tmp_path):
    output = tmp_path / 'fleet.json'
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'bench', 'fleet_bench.py'), '--hosts', '1,2', '--size', '2:1',
         '--repetitions', '1', '--no-warmup', '--profile-hosts', '2', '--replay-rounds', '1', '--output', str(output)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(output.read_text())

    assert results['settings']['namespaces'] == 2 and results['settings']['ports'] == 1
    assert [config['hosts'] for config in results['configs']] == list(HOSTS)
    for config in results['configs']:
        assert set(config['lab']) == {'plain', 'overlay'}
        for phases in config['lab'].values():
            assert set(phases) == set(PHASES)
            for phase in phases.values():
                assert 0 < phase['min'] <= phase['median'] <= phase['max']
                assert phase['controller_cpu_s'] > 0 and phase['hosts_cpu_s'] > 0
                assert phase['controller_largest_process_mib'] > 0
        assert set(config['baseline']) == {'ping_cold', 'ping_warm'}
    assert set(results['scaling']['2/1']) == {'plain', 'overlay', 'ping'}

    # Every build, re-run and teardown was checked on every host: 2 host counts x 2 modes x
    # 3 phases in the timed repetition, and again in the profiled round on 2 hosts.
    checks = results['checks']
    assert all(check['hosts_ok'] == check['hosts'] for check in checks)
    assert len(checks) == len(HOSTS) * 2 * 3 + 2 * 3
    assert {(check['after'], check['what']) for check in checks} == {
        ('converge', 'built'), ('rerun', 'changed=0'), ('teardown', 'gone')}

    # The profiled round metered each host's module: the lab's on both hosts.
    largest = results['configs'][-1]
    profile = largest['lab']['overlay']['converge']['profile']
    by_action = {task['action'].split('.')[-1]: task for task in profile['tasks']}
    lab = by_action['lab_network']
    assert lab['modules'] == ['nslab.net.lab_network'] and lab['hosts'] == 2
    assert lab['payload_kib'] > 100 and lab['module_peak_rss_mib']['max'] > 0
    assert set(lab['per_host_s']) >= {'queue', 'host_latency', 'to_host', 'transfer', 'module', 'back'}
    # The overlay's underlay lookup is raw: a task on both hosts, with no module to meter.
    lookup = by_action['raw']
    assert lookup['name'].endswith("Find the overlay's underlay address") and lookup['hosts'] == 2
    assert 'modules' not in lookup and 'setup' not in by_action
    assert profile['controller_pss_peak_mib'] > 0 and profile['cpu_s']['hosts'] > 0
    assert 'profile' in largest['baseline']['ping_cold'] and 'profile' not in results['configs'][0]['baseline']['ping_cold']
    # And its payload went to both hosts again on its own, with SSH compression and without.
    replay = largest['payload_replay']
    assert replay['hosts'] == 2 and replay['payload_kib'] == pytest.approx(lab['payload_kib'], abs=8)
    assert set(replay) >= {'compressed', 'uncompressed'}
    assert all(len(replay[mode]['transfer_s']['samples']) == 1 for mode in ('compressed', 'uncompressed'))
