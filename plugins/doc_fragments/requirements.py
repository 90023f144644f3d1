# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:

    # One fragment per requirement, so each module names exactly what it needs. ansible-core
    # merges requirements from several places as a sorted set, so their order in the rendered
    # documentation is alphabetical. A fragment must hold options or attributes, hence the
    # empty options.

    PYROUTE2 = r'''
options: {}
requirements:
  - pyroute2 >= 0.7.2 on the managed host
'''

    IPTABLES = r'''
options: {}
requirements:
  - iptables on the managed host; python-iptables on hosts whose iptables is the legacy flavour
'''

    ROOT_NET_ADMIN = r'''
options: {}
requirements:
  - root (CAP_NET_ADMIN) on the managed host
'''

    # Creating and entering named namespaces (mounts, setns) needs CAP_SYS_ADMIN as well.
    ROOT_SYS_AND_NET_ADMIN = r'''
options: {}
requirements:
  - root (CAP_SYS_ADMIN and CAP_NET_ADMIN) on the managed host
'''
