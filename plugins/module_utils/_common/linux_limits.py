# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The limits Linux, iproute2 and iptables put on interface names, namespace names and MTUs.

Checked before anything is read or changed, so a bad value fails the task with a message that
names it instead of a netlink error halfway through a plan.
"""


from typing import Optional

# IFNAMSIZ is 16 bytes including the terminating NUL (linux/if.h).
MAX_INTERFACE_NAME = 15
# A named namespace is a file in /run/netns: NAME_MAX.
MAX_NETNS_NAME = 255
# 68 is the least an IPv4 link must carry (RFC 791); 65535 the most the kernel accepts here.
MIN_MTU, MAX_MTU = 68, 65535

#: Where ip-netns(8) mounts named network namespaces; one name per namespace.
NETNS_RUN_DIR = '/run/netns'
#: Where ``ip netns exec NAME`` finds files to bind over /etc (NETNS_ETC_DIR/NAME/FILE), and
#: those of them the lab writes.
NETNS_ETC_DIR = '/etc/netns'
NETNS_ETC_FILES = ('hosts', 'resolv.conf')


def interface_name_error(name: object) -> Optional[str]:
    """Return why ``name`` cannot be a Linux interface name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "interface name %r is empty" % (name,)
    if len(name.encode('utf-8')) > MAX_INTERFACE_NAME:
        return "interface name %r is longer than Linux allows (%d bytes)" % (name, MAX_INTERFACE_NAME)
    if name in ('.', '..'):
        return "interface name %r is reserved" % (name,)
    # dev_valid_name(): '/' would break sysfs paths, ':' is the old alias separator.
    bad = [c for c in name if c in '/:' or c.isspace()]
    if bad:
        return "interface name %r contains %r, which Linux does not allow" % (name, bad[0])
    return None


def firewall_interface_error(role: str, name: str) -> Optional[str]:
    """Why ``name`` cannot be used as an interface in iptables rules, or None."""
    error = interface_name_error(name)
    if error:
        return '%s: %s' % (role, error)
    if name.endswith('+'):
        return "%s: interface name %r ends in '+', which iptables reads as a wildcard" % (role, name)
    if name.startswith('!'):
        return "%s: interface name %r starts with '!', which iptables reads as a negation" % (role, name)
    return None


def netns_name_error(name: object) -> Optional[str]:
    """Return why ``name`` cannot be a named network namespace (``ip netns``), or None."""
    if not isinstance(name, str) or not name:
        return "namespace name %r is empty" % (name,)
    if len(name.encode('utf-8')) > MAX_NETNS_NAME:
        return "namespace name %r is longer than %d bytes" % (name[:20] + '...', MAX_NETNS_NAME)
    if name in ('.', '..'):
        return "namespace name %r is reserved" % (name,)
    if '/' in name or '\0' in name:
        return "namespace name %r may not contain '/'" % (name,)
    if any(c.isspace() for c in name):
        return "namespace name %r may not contain white space" % (name,)
    return None


def mtu_error(mtu: Optional[int]) -> Optional[str]:
    """Return why ``mtu`` cannot be set on a link, or None (also for None: not managed)."""
    if mtu is not None and not MIN_MTU <= mtu <= MAX_MTU:
        return "mtu %d is outside %d..%d" % (mtu, MIN_MTU, MAX_MTU)
    return None
