#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Every test: ansible-test sanity and ansible-lint, then pytest (unit tests, and system tests
# that drive the modules through ansible-playbook inside sandbox worlds, on both supported
# pyroute2 releases, every target Python and every ansible-core series), then the molecule
# scenarios in QEMU VMs. Run as root: the system tests create namespaces. Extra arguments go
# to pytest (e.g. -k drift, -x).
#
# The budget: 45 minutes on a 2-core machine for all of it. NSLAB_VMS=0 is the everyday tier:
# no VMs and no test marked slow (pytest -m "not slow"), within 15 minutes. The end of the
# output has each phase's time against the budget, and pytest's slowest tests before it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) != 0 ]]; then
    echo "test: run as root (the system tests create network namespaces in a sandbox)" >&2
    exit 1
fi
if [[ ${NSLAB_VMS:-1} == 0 ]]; then
    tier=fast budget=900
else
    tier=full budget=2700
fi

start=$SECONDS
phases=()
failed=()
# phase NAME COMMAND...: runs the command, keeps its wall time, and goes on if it fails.
phase() {
    local name=$1 began=$SECONDS
    shift
    if "$@"; then
        phases+=("$name $((SECONDS - began)) ok")
    else
        phases+=("$name $((SECONDS - began)) FAILED")
        failed+=("$name")
    fi
}

phase bootstrap bash scripts/bootstrap.sh
if ((${#failed[@]})); then
    exit 1
fi
if [[ $tier == full ]]; then
    # The VM images build (or are found) while sanity runs: debootstrap waits on the mirror
    # and the disk, ansible-test on the cores.
    bash scripts/molecule.sh --images >.venv/vm-images.log 2>&1 &
    images=$!
    phase sanity bash scripts/sanity.sh
    echo "== pytest (both cores)"
    phase pytest .venv/bin/python -m pytest -n 2 --dist loadgroup --durations=30 "$@"
    # Real VMs last: they take minutes and prove what the sandbox cannot (systemd, SSH, a
    # fleet, a reboot, Debian 13).
    echo "== molecule scenarios in QEMU VMs"
    if wait "$images"; then
        phase molecule bash scripts/molecule.sh
    else
        cat .venv/vm-images.log
        phases+=("molecule 0 FAILED")
        failed+=("molecule (the VM images, log above)")
    fi
else
    echo "== pytest, fast tier: not the VMs, not the tests marked slow (both cores)"
    phase pytest .venv/bin/python -m pytest -n 2 --dist loadgroup --durations=30 -m "not slow" "$@"
fi

total=$((SECONDS - start))
echo "== test budget ($tier tier, 2-core machine): $((total / 60)) min $((total % 60)) s of $((budget / 60)) min"
for entry in "${phases[@]}"; do
    read -r name seconds status <<<"$entry"
    printf '   %-10s %4d min %02d s  %s\n' "$name" $((seconds / 60)) $((seconds % 60)) "$status"
done
if ((total > budget)); then
    echo "   over the budget by $(((total - budget) / 60)) min $(((total - budget) % 60)) s"
fi
if ((${#failed[@]})); then
    echo "test: failed: ${failed[*]}" >&2
    exit 1
fi
