#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Installs everything the demo and the tests need, and reuses what is already there:
#  - Debian/Ubuntu packages (iproute2, iptables, ...), with apt-get, only when one is missing;
#  - .venv: the pinned controller/test environment (requirements/dev.txt);
#  - .venv/cores/ansible-core-2.X: the controller matrix, one venv per ansible-core series on
#    the Python it needs (requirements/cores/); a series whose Python this machine lacks is
#    left out with a note here, and the tests that need it fail saying so;
#  - .venv/targets/python-3.8 ... python-3.13: one target interpreter per Python the modules
#    support (requirements/targets/), for tests/system/test_target_pythons.py;
#  - .venv/targets/pyroute2-0.7: a second target interpreter with Debian 12's pyroute2;
#  - .venv/collections/ansible_collections/nslab/net: a symlink to this checkout, so Ansible
#    and pytest import the collection from the working tree without copying it;
#  - what the EC2 inventory and its test need, by scripts/bootstrap-ec2.sh where it exists.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# ansible-test sanity skips its shell check when the shellcheck package is missing
# python3-pyroute2 and python3-iptables: the system python3 is a target too, as the role makes it.
# openssh-server: the sandbox fleet (tools/nslab_sandbox/fleet.py) runs an sshd in each of its
# hosts; none may run on this machine itself (see the install below).
packages=(iproute2 iptables iputils-ping curl procps util-linux python3-venv git shellcheck
          python3-pyroute2 python3-iptables openssh-client openssh-server)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        echo "bootstrap: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages with a service (openssh-server) start it when installed; a policy-rc.d that
    # answers 101 ("action forbidden") keeps invoke-rc.d and deb-systemd-invoke from doing so.
    # One that exists already (Docker images have one) is the machine's and stays as it is.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [[ ! -e $policy ]]; then
        trap 'rm -f "$policy"' EXIT
        printf '#!/bin/sh\n# nslab.net bootstrap: no service starts while it installs packages\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ -n $made_policy ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
    # Nor at the next boot: the package enables its units, and this machine is no SSH server
    # because the tests need one in each sandbox host.
    if [[ " ${missing[*]} " == *" openssh-server "* && -d /run/systemd/system ]]; then
        systemctl disable --quiet ssh.service ssh.socket 2>/dev/null || true
    fi
fi

# venv DIR REQUIREMENTS [FALLBACK]: (re)install only when the requirements file changed since
# last time. The venv is made with the Python the file names in a line "# python: 3.X" (found by
# scripts/find-python.sh), else with python3. Where that Python is missing, FALLBACK is used
# with a note, or, without one, the venv is not made and the status is 3.
venv() {
    local dir=$1 req=$2 fallback=${3:-} stamp python=python3 wanted
    stamp="$dir/.installed-$(sha256sum "$req" | cut -c1-16)"
    [[ -e $stamp ]] && return 0
    wanted=$(sed -n 's/^# python: *\(3\.[0-9]*\) *$/\1/p' "$req")
    if [[ -n $wanted ]] && ! python=$(bash scripts/find-python.sh "$wanted"); then
        [[ -n $fallback ]] || return 3
        echo "bootstrap: note: $dir is made with $fallback instead, untested" >&2
        python=$fallback wanted=
    fi
    echo "bootstrap: installing $req into $dir"
    if [[ -x $dir/bin/python ]] && [[ -n $wanted ]] &&
        ! "$dir/bin/python" -c 'import sys; sys.exit(sys.argv[1] != "%d.%d" % sys.version_info[:2])' "$wanted"; then
        rm -rf "$dir"
    fi
    [[ -x $dir/bin/python ]] || "$python" -m venv "$dir"
    # pip's output goes to a log: on success it is noise, on failure it is the story.
    if ! "$dir/bin/python" -m pip install --disable-pip-version-check -r "$req" >"$dir/pip.log" 2>&1; then
        cat "$dir/pip.log" >&2
        echo "bootstrap: pip install -r $req failed (log above, kept in $dir/pip.log)" >&2
        exit 1
    fi
    rm -f "$dir"/.installed-*
    touch "$stamp"
}
venv .venv requirements/dev.txt python3
# The matrix's venvs at once: pip spends its time waiting on the package index.
pids=()
for req in requirements/cores/ansible-core-*.txt; do
    venv ".venv/cores/$(basename "$req" .txt)" "$req" &
    pids+=("$!")
done
for req in requirements/targets/python-3.*.txt; do
    venv ".venv/targets/$(basename "$req" .txt)" "$req" &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    status=0
    wait "$pid" || status=$?
    if ((status == 3)); then
        echo "bootstrap: note: a venv was left out (its Python is missing, above); the tests that need it will fail" >&2
    elif ((status != 0)); then
        exit "$status"
    fi
done
venv .venv/targets/pyroute2-0.7 requirements/target-pyroute2-0.7.txt

mkdir -p .venv/collections/ansible_collections/nslab
ln -sfn "$root" .venv/collections/ansible_collections/nslab/net

if [[ -f scripts/bootstrap-ec2.sh ]]; then
    bash scripts/bootstrap-ec2.sh
fi
