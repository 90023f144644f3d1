#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Every test: ansible-test sanity and ansible-lint, then pytest (unit tests, and system tests
# that drive the modules through ansible-playbook inside sandbox worlds, on both supported
# pyroute2 releases), then the molecule scenarios in QEMU VMs. Run as root: the system tests
# create namespaces. Extra arguments go to pytest (e.g. -k drift, -x).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) != 0 ]]; then
    echo "test: run as root (the system tests create network namespaces in a sandbox)" >&2
    exit 1
fi
bash scripts/bootstrap.sh
bash scripts/sanity.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
# Real VMs last: they take minutes and prove what the sandbox cannot (systemd, SSH, a fleet,
# a reboot). NSLAB_VMS=0 skips them.
if [[ ${NSLAB_VMS:-1} != 0 ]]; then
    echo "== molecule scenarios in QEMU VMs"
    bash scripts/molecule.sh
fi
