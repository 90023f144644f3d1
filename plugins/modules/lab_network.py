#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: lab_network
short_description: A whole Docker-style lab (bridges, namespaces, veth pairs, NAT, published ports, services) in one task
version_added: 0.1.0
description:
  - Builds, repairs or tears down the lab the role M(nslab.net.lab) describes, in one task and
    one process on the host. It is what the role runs; its options are the role's variables
    without their C(lab_) prefix.
  - Checks the lab as a whole first (on the controller, then again on the host), reads the
    host once, allocates omitted addresses stably (a namespace keeps the address it holds; a
    new one gets the lowest free one), and then runs the work of M(nslab.net.netns),
    M(nslab.net.bridge), M(nslab.net.nat_masquerade), M(nslab.net.veth),
    M(nslab.net.port_publish) and M(nslab.net.netns_service) in turn, each exactly as that
    module would, sharing one netlink socket per namespace.
  - After a successful build, the host keeps what brings the lab back at boot (I(restore_at_boot)).
  - Removal comes first, in the reverse order (services, published ports, veth pairs,
    namespaces, NAT, bridges), for namespaces whose entry says C(state=absent) or for
    everything with I(state=absent).
  - On the controller it also describes the lab (return value RV(summary)) and writes a Mermaid
    diagram of it to I(diagram_path).
author:
  - nslab.net contributors (@nslab)
requirements:
  - iproute2 and iptables on the managed host; python-iptables where iptables is the legacy flavour
extends_documentation_fragment:
  - nslab.net.requirements.PYROUTE2
  - nslab.net.requirements.ROOT_SYS_AND_NET_ADMIN
  - nslab.net.attributes
  - nslab.net.state
attributes:
  action:
    support: full
    description: An action plugin of the same name checks the options and writes the diagram on the controller.
  check_mode:
    description: >-
      Reports what a real run would change, changing nothing; later steps take the objects
      earlier steps would create as there.
  diff_mode:
    description: Shows, for each step that runs, what it manages before and after (the result has C(diff) only in diff mode).
options:
  name:
    description:
      - Which lab of the host this is. The lab records what it made in
        C(/run/nslab/labs/NAME.json) (in C(/run), as long as what it lists lives) and never
        adopts, changes or deletes a namespace, link or rule it did not make.
    type: str
    default: lab
  state:
    description:
      - C(present) builds the lab, repairs drift and removes what the lab made but no longer
        declares (a namespace dropped from I(namespaces), an old address's published ports, a
        bridge of a network that went); C(absent) removes everything the lab made, whatever the
        other options say.
  networks:
    description:
      - The lab's networks, as the role's C(lab_networks); see the role's documentation. When
        empty, one network from I(bridge), I(subnet), I(gateway), I(uplink), I(masquerade) and I(icc).
    type: list
    elements: dict
    default: []
  bridge:
    description: The bridge of the single network.
    type: str
    default: br0
  subnet:
    description: The IPv4 subnet of the single network.
    type: str
    default: 10.0.0.0/24
  gateway:
    description: The bridge's address; the first usable address of I(subnet) when omitted.
    type: str
  uplink:
    description: The interface traffic leaves by; the interface of the host's IPv4 default route when omitted.
    type: str
  masquerade:
    description: Whether the network's traffic out of I(uplink) is masqueraded.
    type: bool
    default: true
  icc:
    description: Whether namespaces on the network reach each other.
    type: bool
    default: true
  namespaces:
    description:
      - The lab's namespaces, as the role's C(lab_namespaces) (C(name), C(address),
        C(publish), C(networks), C(command), C(chdir), C(state), C(dns), C(dns_search),
        C(extra_hosts)); see the role's documentation.
    type: list
    elements: dict
    default: []
  backend:
    description: Which iptables flavour the rules go to; C(auto) is the one the host's own C(iptables) uses.
    type: str
    choices: [auto, legacy, nft]
    default: auto
  service_manager:
    description: What keeps each namespace's C(command) running, as M(nslab.net.netns_service)'s I(manager).
    type: str
    choices: [auto, systemd, process]
    default: auto
  kill_processes:
    description: When removing namespaces, kill processes still inside them instead of failing.
    type: bool
    default: false
  diagram_path:
    description:
      - Where the controller writes a Mermaid diagram of the lab (a Markdown file), with
        I(state=present); a relative path is taken from the directory C(ansible-playbook) runs
        in. I(state=absent) removes it. Neither happens in check mode, and neither makes the
        task C(changed) (the diagram is a report, not host state); a failed write is a warning.
    type: path
  overlay:
    description:
      - Join the lab's networks to the same-named networks of other hosts with a VXLAN overlay
        (device C(nslab.VNI), learning off, static entries per peer, routed like flannel's vxlan
        backend). A namespace reaches a namespace of another host by its lab address, with its
        own source address. The lab's bridges and veths get the MTU min(1500, underlay MTU - 50).
      - Only the peers' VXLAN (their underlay address and this VNI) is accepted; networks stay
        isolated from each other, and I(icc=false) holds across hosts.
      - With the role (and this module's action plugin), I(peers) are found in the inventory; see
        the role's README.
    type: dict
    suboptions:
      vni:
        description: The VXLAN network id, the same on every host of the overlay.
        type: int
        required: true
      port:
        description: The UDP port of the underlay.
        type: int
        default: 4789
      address:
        description:
          - This host's underlay IPv4 address, which one of its interfaces holds. Default the
            first IPv4 address of the first network's I(uplink) (the default route's interface).
        type: str
      peers:
        description:
          - The other hosts of the overlay. When omitted, the action plugin lists every host of the
            inventory whose C(lab_overlay) has the same VNI and whose C(lab_name) is the same.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The peer's name (its inventory name).
            type: str
            required: true
          address:
            description:
              - The peer's underlay IPv4 address. When omitted, the address recorded for this peer
                by an earlier run is used; a peer known neither way is left out (C(plan.overlay.unknown)).
            type: str
          networks:
            description: The peer's networks; only those this lab has too (by name) are joined.
            type: list
            elements: dict
            default: []
            suboptions:
              network:
                description: The network's name.
                type: str
                required: true
              subnet:
                description: The network's subnet on the peer; subnets must not overlap across hosts.
                type: str
                required: true
          namespaces:
            description:
              - The peer's namespaces on its networks, with their addresses there, as the peer's own
                run of the lab planned them; with I(names), a namespace of this lab names those on its
                networks as C(NAME.PEER) and C(NAME.PEER.LAB), and as C(NAME) and C(NAME.LAB) where
                no namespace of this host (or of a peer listed before) has that name.
              - When omitted, those recorded for this peer by an earlier run are used (C([]) means it
                has none). The action plugin fills them in from the peer's registered result of this
                lab in the play, if any; the role runs the lab a second time when every host has run
                it once, so that every host names the namespaces of this run.
            type: list
            elements: dict
            suboptions:
              name:
                description: The namespace's name.
                type: str
                required: true
              network:
                description: The peer's network it is on.
                type: str
                required: true
              address:
                description: Its address on that network, in the peer's subnet of it.
                type: str
                required: true
  restore_at_boot:
    description:
      - Where systemd is init, bring the lab back at boot, with no Ansible run. After each
        successful run that builds the lab, the host keeps this module's code and its arguments
        (with the addresses the run allocated) in C(/var/lib/nslab/restore/NAME.pyz) and
        C(NAME.json), and the enabled unit C(nslab-restore@NAME.service) runs them after
        C(network-online.target). C(systemctl status nslab-restore@NAME) and its journal say what
        was restored or why it failed; a failure does not hold the boot.
      - C(false), and I(state=absent), remove the unit and those files (a teardown first of all).
      - Where systemd is not init nothing is installed, and RV(restore) says so.
    type: bool
    default: true
  names:
    description:
      - Give every namespace its names in C(/etc/netns/NAME/hosts) and C(resolv.conf) (what
        C(ip netns exec) binds over /etc, and the lab's services see); the namespaces that share a
        network with it by C(NAME) and C(NAME.LAB), I(extra_hosts), the host's /etc/hosts, and
        nameservers it reaches (the host's less loopback ones; systemd-resolved's upstream servers
        where the host has only a loopback stub; else 8.8.8.8 and 8.8.4.4, with a warning).
      - A file there that does not start with the lab's marker line is someone else's, and the run
        fails before any change. C(false) removes the lab's files.
    type: bool
    default: true
  dns:
    description: The namespaces' nameservers (IPv4), instead of the host's; a namespace's own C(dns) wins.
    type: list
    elements: str
    default: []
  dns_search:
    description: The namespaces' search domains, instead of the host's; a namespace's own C(dns_search) wins.
    type: list
    elements: str
    default: []
  extra_hosts:
    description: Lines C(NAME:ADDRESS) of every namespace's hosts file (C(docker run --add-host)), before a namespace's own.
    type: list
    elements: str
    default: []
  reuse_result:
    description:
      - For the action plugin, which acts on it (the module ignores it). Where this host's result of
        the lab earlier in the play (the variable this task registers, else C(lab_result)) came from
        the same arguments (RV(arguments)) and used the same namespaces of every peer this run
        gives namespaces for (C(plan.overlay.peers[].namespaces)), that result is returned, not
        changed, and the module does not run.
      - The role sets it on its second run of the lab, which gives every host the namespaces of
        the peers' first run.
    type: bool
    default: false
  lock_timeout:
    description:
      - How many seconds to wait for another run of the same lab on the host to finish (one run
        per lab at a time holds C(/run/nslab/labs/NAME.lock), released by the kernel however the
        run ends). Past it the task fails, naming the holder's pid, and changes nothing. A run in
        check mode waits only for a run that changes the lab. Labs of other names do not wait.
    type: int
    default: 60
notes:
  - The task fails before changing anything when the lab is not valid, naming every problem.
  - The overlay needs UDP I(port) open between the hosts (on EC2, in the security group); the
    source/destination check can stay on, since the lab's addresses travel inside VXLAN.
  - When the host lacks what the modules need, the task fails before changing anything with
    RV(missing_requirements) listing it; the role installs those and runs the task again.
seealso:
  - module: nslab.net.netns_info
  - module: nslab.net.netns
  - module: nslab.net.port_publish
'''

EXAMPLES = r'''
- name: The seeds' lab
  nslab.net.lab_network:
    subnet: 10.0.0.0/24
    gateway: 10.0.0.254
    namespaces:
      - name: ns1
        publish: ["8000:8000"]
        command: python3 -m http.server 8000
      - name: ns2
    diagram_path: /tmp/lab.md

- name: A second lab, one of a two-host overlay (the other host declares 10.0.2.0/24 and this host as its peer)
  nslab.net.lab_network:
    name: overlay
    bridge: br1
    subnet: 10.0.1.0/24
    namespaces:
      - name: web
    overlay:
      vni: 42
      peers:
        - name: host2
          address: 192.0.2.12
          networks:
            - network: br1
              subnet: 10.0.2.0/24
          namespaces:          # web's /etc/netns/web/hosts names it db, db.overlay, db.host2, db.host2.overlay
            - name: db
              network: br1
              address: 10.0.2.2

- name: Tear that lab down, its overlay with it
  nslab.net.lab_network:
    name: overlay
    state: absent

- name: Tear down everything the lab made, and its diagram
  nslab.net.lab_network:
    state: absent
    diagram_path: /tmp/lab.md
'''

RETURN = r'''
plan:
  description: The lab as planned, with every address allocated, and the module arguments of each step.
  returned: success
  type: dict
host_state:
  description: What the host held before the run, in the form M(nslab.net.netns_info) returns (C(host), C(namespaces)).
  returned: success
  type: dict
steps:
  description: Each step that ran, in order, with whether it changed anything and its commands.
  returned: success
  type: list
  elements: dict
  sample: [{step: netns, changed: true, commands: ["ip netns add ns1"]}]
commands:
  description: The equivalent commands of all changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
backend:
  description: The iptables flavour the rules went to.
  returned: success
  type: str
  sample: nft
summary:
  description: >-
    The lab as the role prints it, from the action plugin: C(totals) (networks, namespaces, published
    ports, services), the networks, namespaces, published ports with their URLs, and C(text), the lines of a table.
  returned: success
  type: dict
arguments:
  description: >-
    A digest of the validated arguments, without the peers' namespaces, from the action plugin:
    what I(reuse_result) compares.
  returned: success
  type: str
  sample: sha256:3f5a...
diagram:
  description: The path of the diagram written on the controller, when one was.
  returned: when I(diagram_path) is set and I(state=present)
  type: str
restore:
  description: >-
    Whether the lab comes back at boot (C(at_boot)); where it does, the unit (C(unit)) and the stored
    C(declaration) and C(code); where not, C(reason).
  returned: success
  type: dict
  sample: {at_boot: true, unit: nslab-restore@lab.service, declaration: /var/lib/nslab/restore/lab.json,
           code: /var/lib/nslab/restore/lab.pyz}
missing_requirements:
  description: What the host lacks (C(pyroute2), C(python-iptables), C(iproute2), C(iptables)).
  returned: when the host lacks any
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._lab.runner import LAB_ARGS, converge_lab, lab_arguments


def main():
    module = AnsibleModule(supports_check_mode=True, **LAB_ARGS)
    # The diff is most of the result at 50 namespaces (100 of 160 KiB), which the controller
    # would decode and keep for nothing: it is shown only in diff mode.
    run_module(module, lab_arguments, converge_lab, diff_only_in_diff_mode=True)


if __name__ == '__main__':
    main()
