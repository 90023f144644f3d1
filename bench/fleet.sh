#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The fleet benchmark: playbooks/lab.yml over SSH on 1, 5 and 20 hosts of a sandbox fleet,
# with and without the overlay (bench/fleet_bench.py). Run as root: it starts its own sandbox
# world and fleet and changes nothing outside them. Arguments go to bench/fleet_bench.py, e.g.
#   bench/fleet.sh                                  # 1,5,20 hosts x 20:20, 3 repetitions -> bench/results/fleet.json
#   bench/fleet.sh --hosts 1,2 --size 2:1 --repetitions 1 --no-warmup --output /tmp/f.json   # the CI smoke
#   bench/fleet.sh --hosts 1,20 --overlay on --no-profile
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) != 0 ]]; then
    echo "bench: run as root (the sandbox needs to create namespaces)" >&2
    exit 1
fi
bash scripts/bootstrap.sh
exec .venv/bin/python bench/fleet_bench.py "$@"
