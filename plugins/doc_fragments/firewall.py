# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:

    # The modules that write iptables rules (nat_masquerade, port_publish) and the kernel
    # settings they share through the record in /run/nslab/sysctls.json.
    DOCUMENTATION = r'''
options:
  backend:
    description:
      - Which iptables to write to. C(auto) uses what the host's C(iptables -V) names
        (nf_tables or legacy); C(legacy) and C(nft) override the detection.
    type: str
    choices: [auto, legacy, nft]
    default: auto
notes:
  - A kernel setting is put back only if it still has the value the module set; if somebody
    changed it since, it is left as it is, with a warning. Settings an earlier version of
    the collection changed, without a record, are not put back.
'''
