#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The demo: builds two namespaces on a bridge with the collection's modules, inside a
# throw-away sandbox world (private network, mount and PID namespaces), shows them talking,
# and tears them down. Nothing outside the sandbox is touched. Run as root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ -z ${NSLAB_WORLD:-} ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "try-lab: run as root (the sandbox needs to create namespaces)" >&2
        exit 1
    fi
    bash scripts/bootstrap.sh
    exec scripts/sandbox run -- bash "$root/scripts/try-lab.sh" "$@"
fi

# From here on we are the "host" of a sandbox world.
export PATH=$root/.venv/bin:$PATH ANSIBLE_CONFIG=$root/ansible.cfg
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
bold='' plain=''
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Build the lab: ansible-playbook playbooks/two_namespaces.yml"
ansible-playbook playbooks/two_namespaces.yml

step "Run it again: nothing to change"
ansible-playbook playbooks/two_namespaces.yml | tail -n 2

step "What the kernel holds now"
run ip netns list
run ip -br address show master br0
run ip -br address show br0
run ip -n ns1 -br address
run ip -n ns1 route

step "They talk: ns1 -> ns2, ns2 -> ns1, host -> ns1, ns1 -> the host's uplink address"
run ip netns exec ns1 ping -c 2 -W 2 10.0.0.2
run ip netns exec ns2 ping -c 2 -W 2 10.0.0.1
run ping -c 2 -W 2 10.0.0.1
run ip netns exec ns1 ping -c 2 -W 2 198.51.100.2

step "Tear it down: -e two_ns_state=absent"
ansible-playbook playbooks/two_namespaces.yml -e two_ns_state=absent | tail -n 2
run ip netns list
run ip -br link
printf '\nDone. The sandbox and everything in it vanish now.\n'
