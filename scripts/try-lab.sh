#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The demo: the seeds' lab with `ansible-playbook playbooks/lab.yml`, inside a throw-away
# sandbox world (private network, mount and PID namespaces; its own /run): ns1 and ns2 on
# br0, NAT to the "internet", ns1's web server published on port 8000. Shows it answering
# from the host, from another machine and from inside the lab, then tears it down. Nothing
# outside the sandbox is touched. Run as root.
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

# From here on we are the "host" of a sandbox world: 198.51.100.2 on eth0, with another
# machine (198.51.100.3) beside it and an internet server (203.0.113.10) behind a router.
export PATH=$root/.venv/bin:$PATH ANSIBLE_CONFIG=$root/ansible.cfg
bold='' plain=''
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# The diagram goes to the sandbox's own /run, which vanishes with it.
lab=(playbooks/lab.yml -e @playbooks/labs/seeds.yml -e lab_diagram_path=/run/lab-diagram.md)

# The host's resolver is systemd-resolved's stub, as on Ubuntu and Amazon Linux: 127.0.0.53
# relays to "the internet's" DNS server (203.0.113.10, which knows example.test). All in the
# sandbox's own /etc (an overlay) and /run.
dns=(python3 -m nslab_sandbox dns)
nslab-node internet -- "${dns[@]}" --bind 203.0.113.10 example.test=203.0.113.10 </dev/null >/dev/null &
"${dns[@]}" --bind 127.0.0.53 --forward 203.0.113.10 </dev/null >/dev/null &
mkdir -p /run/systemd/resolve
printf 'nameserver 203.0.113.10\nsearch example\n' >/run/systemd/resolve/resolv.conf
printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example\n' >/run/systemd/resolve/stub-resolv.conf
rm -f /etc/resolv.conf && ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
for _ in $(seq 50); do getent hosts example.test >/dev/null && break; sleep 0.1; done

step "The lab: playbooks/labs/seeds.yml"
cat playbooks/labs/seeds.yml

step "Build it: ansible-playbook ${lab[*]}"
ansible-playbook "${lab[@]}"

step "Run it again: nothing to change"
ansible-playbook "${lab[@]}" | tail -n 2

step "What the kernel holds now"
run ip netns list
run ip -br address show master br0
run ip -br address show br0
run ip -n ns1 -br address
run ip -n ns1 route
run iptables -t nat -S NSLAB-DNAT

step "ns1's web server (python3 -m http.server 8000, kept running by the role) answers"
run curl -sS -m 5 -o /dev/null -w 'from the host, 127.0.0.1:8000: HTTP %{http_code}\n' http://127.0.0.1:8000/
run nslab-node other -- curl -sS -m 5 -o /dev/null \
    -w 'from the other machine, 198.51.100.2:8000: HTTP %{http_code}\n' http://198.51.100.2:8000/
run ip netns exec ns2 curl -sS -m 5 -o /dev/null \
    -w 'from ns2 through the host (hairpin), 198.51.100.2:8000: HTTP %{http_code}\n' http://198.51.100.2:8000/

step "Names: ns2 finds ns1 by its name, and the internet's names through the host's nameserver"
run cat /etc/resolv.conf
run cat /etc/netns/ns2/hosts /etc/netns/ns2/resolv.conf
run ip netns exec ns2 getent hosts ns1 ns1.lab example.test
run ip netns exec ns2 curl -sS -m 5 -o /dev/null -w 'from ns2, http://ns1:8000/: HTTP %{http_code}\n' http://ns1:8000/
printf '$ ip netns exec ns2 curl -sS -m 5 http://example.test/\nthe server of example.test saw the client address: '
ip netns exec ns2 curl -sS -m 5 http://example.test/

step "ns2 reaches the internet, masqueraded behind the host's address"
run ip netns exec ns2 ping -c 2 -W 2 203.0.113.10
printf 'the internet server saw the client address: '
ip netns exec ns2 curl -sS -m 5 http://203.0.113.10/

step "Not published, not reachable: the other machine routes 10.0.0.0/24 via the host"
run nslab-node other -- ip route add 10.0.0.0/24 via 198.51.100.2
run nslab-node other -- ping -c 1 -W 2 10.0.0.254
if nslab-node other -- curl -sS -m 3 -o /dev/null http://10.0.0.1:8000/ 2>/dev/null; then
    echo "unexpected: 10.0.0.1:8000 answered a routed request" >&2; exit 1
fi
echo "10.0.0.1:8000 straight from the other machine: no answer (only the published port gets in)"

step "The diagram the role wrote (Mermaid; GitHub draws it)"
cat /run/lab-diagram.md

step "Tear it down: -e lab_state=absent"
ansible-playbook "${lab[@]}" -e lab_state=absent | tail -n 2
run ip netns list
run ip -br link
printf '$ iptables-save | grep -c NSLAB\n'
iptables-save | grep -c NSLAB || true
printf '\nDone. The sandbox and everything in it vanish now.\n'
