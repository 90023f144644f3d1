# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values the netlink adapter makes up itself."""

from __future__ import annotations

from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import random_mac


def test_a_bridge_gets_a_locally_administered_unicast_address_of_its_own():
    seen = set()
    for unused in range(200):
        mac = random_mac()
        first = int(mac[:2], 16)
        assert len(mac) == 17 and first & 0x01 == 0 and first & 0x02 == 0x02, mac
        seen.add(mac)
    assert len(seen) == 200
