#!/usr/bin/python
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
---
module: netns_service
short_description: Keep long-running commands running inside named network namespaces
version_added: 0.1.0
description:
  - Runs a command inside a named network namespace (one made by M(nslab.net.netns) or
    C(ip netns add)) and keeps it running after the play ends, like the process of a
    container; for example a web server in C(ns1).
  - Give one service with the top-level options, or many with I(services).
  - Re-running with the same arguments reports C(changed=false) while the service runs. A
    service that is not running, whose command, chdir or namespace changed, or whose
    namespace was deleted and made again is (re)started and reported as changed.
  - Where systemd is init each service is a runtime unit C(/run/systemd/system/nslab-NAME.service)
    that joins the namespace with C(NetworkNamespacePath=) and restarts on failure; its output
    goes to the journal (C(journalctl -u nslab-NAME.service)). Like C(ip netns exec), it sees
    C(/etc/netns/NETNS/hosts) and C(resolv.conf), where they exist, in place of the host's
    (C(BindReadOnlyPaths=)).
  - Elsewhere (containers, sandboxes) the module starts C(ip netns exec NETNS /bin/sh -c COMMAND)
    itself, in a session of its own (so it outlives the play and the connection), with stdin
    from C(/dev/null) and stdout and stderr appended to C(/run/nslab/services/NAME.log). Its
    record is C(/run/nslab/services/NAME.json). Nothing restarts such a service when it exits;
    the next run of the task does.
  - A service gets a clean environment (C(PATH), and C(LANG) when the module has it), as a
    systemd unit does. Under the process manager it also gets C(NSLAB_SERVICE=NAME:TOKEN), by
    which a run that was killed while starting it finds it again (no duplicate is started).
  - Everything lives in C(/run), so services vanish on reboot together with the namespaces.
author:
  - nslab.net contributors (@nslab)
requirements:
  - root on the managed host
  - C(ip) (iproute2) on the managed host for I(manager=process)
  - systemd 242 or later for I(manager=systemd) (C(NetworkNamespacePath=))
extends_documentation_fragment:
  - nslab.net.attributes
  - nslab.net.attributes.CHECK_MODE_MISSING_NAMESPACE
  - nslab.net.state
attributes:
  diff_mode:
    description: Shows the services before and after.
options:
  netns:
    description:
      - The named network namespace the command runs in (a file in C(/run/netns)). Required
        unless I(services) is given; with I(state=absent) I(name) alone is enough.
    type: str
  command:
    description:
      - The command line, run by C(/bin/sh -c), so pipes, redirections and quoting work as in
        a shell. Required with I(state=present).
      - It must stay in the foreground; a command that forks into the background and exits
        counts as exited.
    type: str
  name:
    description:
      - The service's name, unique within the task; letters, digits, C(-), C(_) and C(.), at
        most 64 characters, not starting with a dot. Defaults to I(netns).
    type: str
  chdir:
    description:
      - The absolute path of the directory the command runs in. It must exist.
      - Defaults to the service's own empty directory C(/run/nslab/services/NAME.d), so that a
        file server started without I(chdir) (C(python3 -m http.server)) serves nothing
        instead of the host's C(/).
    type: path
  services:
    description:
      - Many services in one task, each with the options above. Mutually exclusive with them.
    type: list
    elements: dict
    suboptions:
      netns:
        description: The namespace it runs in; required with I(state=present).
        type: str
      command:
        description: The command line for C(/bin/sh -c); required with I(state=present).
        type: str
      name:
        description: The service's name; defaults to its I(netns).
        type: str
      chdir:
        description: The directory it runs in; defaults to its own empty directory.
        type: path
  manager:
    description:
      - What runs the services. C(auto) is C(systemd) where systemd is init (C(/run/systemd/system)
        is a directory), else C(process).
      - A service found under the other manager is stopped and removed there, so it never runs
        twice.
    type: str
    choices: [auto, systemd, process]
    default: auto
  state:
    description:
      - C(present) starts the services and keeps them running; C(absent) stops them and
        removes their unit file or record (under either manager).
      - Stopping sends SIGTERM to the service's process group (or lets systemd stop the unit)
        and SIGKILL after 5 seconds. Only processes the module started are signalled, proven
        by pid and start time. The log and the service's own directory stay until reboot.
notes:
  - The task fails before changing anything when any service's options are invalid, naming
    every bad value, and in a real run when a namespace or I(chdir) does not exist.
  - After starting services the module waits half a second, once per task, and fails with the
    end of the service's log when one of them has already exited (a mistyped command).
  - A service counts as running when its process (the unit's main process) is alive and
    inside the namespace now mounted at C(/run/netns/NETNS).
seealso:
  - module: nslab.net.netns
  - module: nslab.net.port_publish
'''

EXAMPLES = r'''
- name: A web server inside ns1, serving the host's documentation
  nslab.net.netns_service:
    netns: ns1
    command: python3 -m http.server 8000
    chdir: /usr/share/doc

- name: Many services in one task
  nslab.net.netns_service:
    services:
      - netns: ns1
        name: web
        command: python3 -m http.server 8080 --bind 10.0.0.1 --directory /usr/share/common-licenses
      - netns: ns2
        command: python3 -m http.server 9000 --bind 127.0.0.1

- name: Stop all three (a service without a name is named after its namespace)
  nslab.net.netns_service:
    services:
      - name: ns1
      - name: web
      - netns: ns2
    state: absent
'''

RETURN = r'''
services:
  description: The services of the task that exist after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The service's name.
      type: str
      sample: web
    netns:
      description: The namespace it runs in.
      type: str
      sample: ns1
    command:
      description: Its command line.
      type: str
      sample: python3 -m http.server 8000
    chdir:
      description: The directory it runs in.
      type: str
      sample: /run/nslab/services/web.d
    manager:
      description: What runs it, C(systemd) or C(process).
      type: str
      sample: process
    running:
      description: Whether it runs, inside its namespace.
      type: bool
      sample: true
manager:
  description: The manager the task used for I(state=present), C(systemd) or C(process).
  returned: always
  type: str
  sample: process
commands:
  description: The equivalent shell commands of the changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
  sample:
    - >-
      mkdir -p /run/nslab/services/web.d && cd /run/nslab/services/web.d && ip netns exec ns1
      setsid /bin/sh -c 'python3 -m http.server 8000' </dev/null >>/run/nslab/services/web.log 2>&1 &
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._common.results import finish
from ansible_collections.nslab.net.plugins.module_utils._services.spec import SERVICE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._services.tasks import converge_services, service_spec


def main():
    module = AnsibleModule(supports_check_mode=True, **SERVICE_ARGS)
    finish(module, lambda: converge_services(module, service_spec(module.params)))


if __name__ == '__main__':
    main()
