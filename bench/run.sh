#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The benchmark: playbooks/lab.yml against the seeds' shell walkthrough, inside a throw-away
# sandbox world. Run as root. Arguments go to bench/lab_bench.py, e.g.
#   bench/run.sh                                   # small, medium and large, 5 repetitions
#   bench/run.sh --sizes small --repetitions 1     # the smoke run CI makes
#   bench/run.sh --sizes 50:100,100:100 --output /tmp/b.json
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) != 0 ]]; then
    echo "bench: run as root (the sandbox needs to create namespaces)" >&2
    exit 1
fi
bash scripts/bootstrap.sh
exec scripts/sandbox run -- .venv/bin/python bench/lab_bench.py "$@"
