#!/bin/sh
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# snapshot.sh FILE: the VM's network state, one fact per line, so that `diff -u` of the
# snapshots before the lab and after its teardown names exactly what was left behind.
set -eu
out=$1
mkdir -p "$(dirname "$out")"
{
    echo '## links'
    ip -j -p link show
    echo '## addresses'
    ip -j -p addr show
    echo '## routes'
    ip -j -p route show table all
    echo '## namespaces'
    ls -A /run/netns 2>/dev/null || true
    echo '## kernel settings'
    grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/route_localnet \
        /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
    # The lab's names; not /etc/resolv.conf, which the VM's own networking writes when it likes.
    echo '## /etc/netns'
    find /etc/netns 2>/dev/null | sort || true
    echo '## nslab units'
    systemctl list-units --all --plain --no-legend 'nslab-*'
    for unit in /run/systemd/system/nslab-*; do
        if [ -e "$unit" ]; then echo "$unit"; fi
    done
    # Counters change with every packet; a table that iptables created and that holds nothing
    # but empty built-in chains is the documented residue of teardown (see the role's README).
    # Debian 13 has no iptables before the role installs it: no rules is what it holds then.
    echo '## iptables rules'
    if command -v iptables-save >/dev/null; then
        iptables-save | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' | awk '
            /^\*/ { table = $0; body = ""; rules = 0; next }
            /^COMMIT/ { if (rules) printf "%s\n%sCOMMIT\n", table, body; next }
            { body = body $0 "\n"; if ($0 !~ /^:(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ACCEPT$/) rules = 1 }'
    fi
    # Where nft exists (Debian 13 has it from the start), the whole nf_tables ruleset, so that
    # nothing the lab adds outside iptables' view goes unseen either; the same residue left out:
    # base chains without rules that accept, and tables with nothing else.
    echo '## nftables ruleset'
    if command -v nft >/dev/null; then
        nft -j list ruleset | python3 -c '
import json, sys
items = json.load(sys.stdin)["nftables"]
def key(obj):
    return (obj.get("family"), obj.get("table") or obj.get("name"))
empty = {(key(i["chain"]), i["chain"]["name"]) for i in items
         if "chain" in i and i["chain"].get("policy", "accept") == "accept" and "hook" in i["chain"]}
for i in items:
    if "rule" in i:
        empty.discard((key(i["rule"]), i["rule"]["chain"]))
kept = [i for i in items if "metainfo" not in i
        and not ("chain" in i and (key(i["chain"]), i["chain"]["name"]) in empty)]
used = {key(next(iter(i.values()))) for i in kept if "table" not in i}
for i in kept:
    if "table" in i and key(i["table"]) not in used:
        continue
    obj = next(iter(i.values()))
    obj.pop("handle", None)
    if "expr" in obj:  # counters change with every packet
        obj["expr"] = [{"counter": None} if "counter" in e else e for e in obj["expr"]]
    print(json.dumps(i, sort_keys=True))
'
    fi
} >"$out"
