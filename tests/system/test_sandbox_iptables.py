# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iptables in the sandbox world: the flavour switch, the Docker-like host and the churner.

The product is tested on both iptables flavours, next to Docker's rules and
next to another tool writing rules; these tests prove those test conditions
are what they claim to be.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from nslab_sandbox import (
    DOCKER_LINES,
    FLAVOURS,
    World,
    WorldError,
    churn_command,
    churn_lines,
    current_flavour,
    docker_lines,
    expected_churn_lines,
    iptables_save,
    make_docker_like,
    normalize_save,
    ruleset_lines,
    use_iptables,
)

pytestmark = pytest.mark.system

OTHER = {"nft": "legacy", "legacy": "nft"}
PROBE_RULE = "-A INPUT -s 192.0.2.250/32 -m comment --comment flavour-probe -j ACCEPT"
RESTORE_PROBE_RULE = "-A POSTROUTING -s 192.0.2.251/32 -m comment --comment restore-probe -j RETURN"
PROBE6_RULE = "-A INPUT -s 2001:db8::1/128 -m comment --comment flavour-probe6 -j ACCEPT"


def alternatives_state() -> dict[str, str]:
    """This machine's /etc/alternatives: entry -> link target ("" for a non-link)."""
    return {entry.name: os.readlink(entry.path) if entry.is_symlink() else ""
            for entry in os.scandir("/etc/alternatives")}


def mount_points() -> set[str]:
    """Mount points of this process's (the machine's) mount namespace."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return {line.split()[4] for line in handle}


@pytest.fixture(name="flavour", params=FLAVOURS)
def flavour_fixture(request: pytest.FixtureRequest) -> str:
    """Each iptables flavour in turn."""
    return str(request.param)


@pytest.fixture(name="flavour_world")
def flavour_world_fixture(flavour: str) -> Iterator[World]:
    """A started world whose iptables is *flavour*."""
    with World(iptables=flavour) as world:
        yield world


# -- the flavour switch ------------------------------------------------------


def test_commands_are_the_chosen_flavour(flavour_world: World, flavour: str) -> None:
    """iptables, iptables-restore and ip6tables write to the chosen flavour only."""
    world = flavour_world
    assert current_flavour(world) == flavour
    world.run(["iptables", *PROBE_RULE.split()])
    world.run(["iptables-restore", "-w", "--noflush"], input=f"*nat\n{RESTORE_PROBE_RULE}\nCOMMIT\n")
    world.run(["ip6tables", *PROBE6_RULE.split()])

    own, other = iptables_save(world, flavour), iptables_save(world, OTHER[flavour])
    assert PROBE_RULE in ruleset_lines(own)["filter"]
    assert RESTORE_PROBE_RULE in ruleset_lines(own)["nat"]
    assert "probe" not in other, other
    # Plain iptables-save reads the chosen flavour as well.
    assert iptables_save(world) == own
    own6 = world.run([f"ip6tables-{flavour}-save"]).stdout
    other6 = world.run([f"ip6tables-{OTHER[flavour]}-save"]).stdout
    assert PROBE6_RULE in own6.splitlines()
    assert "probe" not in other6, other6


def test_default_world_keeps_the_machine_choice(world: World) -> None:
    """World() without iptables= runs the flavour this machine chose."""
    target = os.readlink("/etc/alternatives/iptables")
    assert current_flavour(world) == ("legacy" if target.endswith("-legacy") else "nft")


def test_switching_leaves_the_machine_alternatives_alone() -> None:
    """Switching back and forth in a world never changes this machine's /etc/alternatives."""
    before = alternatives_state()
    with World(iptables="legacy") as world:
        assert alternatives_state() == before
        assert "/etc/alternatives" not in mount_points()
        assert world.iptables == "legacy"
        use_iptables(world, "nft")
        assert (world.iptables, current_flavour(world)) == ("nft", "nft")
        use_iptables(world, "legacy")
        assert current_flavour(world) == "legacy"
        # Only the links of the two groups changed in the world's copy.
        inside = world.run(["find", "/etc/alternatives", "-mindepth", "1", "-printf", "%f %l\n"]).stdout
        changed = {name for name, unused, target in (line.partition(" ") for line in inside.splitlines())
                   if before.get(name) != target}
        assert changed == {"iptables", "iptables-save", "iptables-restore",
                           "ip6tables", "ip6tables-save", "ip6tables-restore"}
        assert alternatives_state() == before
    assert alternatives_state() == before
    assert "/etc/alternatives" not in mount_points()


def test_bad_flavours_and_layouts_are_refused(world: World) -> None:
    """Unknown flavours, stopped worlds and a layout without alternatives fail clearly."""
    with pytest.raises(ValueError, match="unknown iptables flavour"):
        World(iptables="xtables")
    with pytest.raises(ValueError, match="unknown iptables flavour"):
        use_iptables(world, "iptables")
    with pytest.raises(WorldError, match="not started"):
        use_iptables(World(), "nft")
    # An empty /etc/alternatives, in the world only.
    world.sh("mount -t tmpfs nslab-empty /etc/alternatives")
    with pytest.raises(WorldError, match="/etc/alternatives/iptables is not a symbolic link"):
        use_iptables(world, "legacy")


def test_saved_rules_are_normalized() -> None:
    """normalize_save drops comments and zeroes counters; ruleset_lines splits tables."""
    text = ("# Generated by iptables-save v1.8.9\n*filter\n:INPUT ACCEPT [12:3456]\n:FORWARD DROP [1:2]\n"
            "-A INPUT -j ACCEPT\nCOMMIT\n# Completed\n*nat\n:POSTROUTING ACCEPT [7:8]\nCOMMIT\n")
    normalized = normalize_save(text)
    assert normalized == ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n"
                          "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n")
    assert ruleset_lines(normalized) == {
        "filter": [":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", "-A INPUT -j ACCEPT"],
        "nat": [":POSTROUTING ACCEPT [0:0]"],
    }


# -- the Docker-like host ----------------------------------------------------


def test_docker_like_host(flavour_world: World, flavour: str) -> None:
    """make_docker_like loads Docker 28's rules and bridge into the chosen flavour."""
    world = flavour_world
    baseline = make_docker_like(world)
    assert docker_lines(baseline) == DOCKER_LINES
    assert ":FORWARD DROP [0:0]" in ruleset_lines(baseline)["filter"]
    assert baseline == iptables_save(world, flavour)
    assert not docker_lines(iptables_save(world, OTHER[flavour]))
    link = json.loads(world.run(["ip", "-j", "addr", "show", "dev", "docker0"]).stdout)[0]
    assert "UP" in link["flags"]
    assert {"family": "inet", "local": "172.17.0.1", "prefixlen": 16}.items() <= link["addr_info"][0].items()
    assert world.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout == "1\n"


def test_docker_lines_tell_docker_changes_from_others(flavour_world: World) -> None:
    """Rules of others do not change docker_lines; a lost Docker rule or policy does."""
    world = flavour_world
    expected = docker_lines(make_docker_like(world))
    world.sh("set -e\n"
             "iptables -w -I FORWARD -s 10.10.0.0/24 -j ACCEPT\n"
             "iptables -w -A FORWARD -d 10.10.0.0/24 -j ACCEPT\n"
             "iptables -w -t nat -I POSTROUTING -s 10.10.0.0/24 -o eth0 -j MASQUERADE\n"
             "iptables -w -N NSLAB-TEST\n"
             "iptables -w -t raw -A PREROUTING -d 10.10.0.2/32 -j DROP\n")
    assert docker_lines(iptables_save(world)) == expected
    world.run(["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "172.17.0.0/16", "!", "-o", "docker0",
               "-j", "MASQUERADE"])
    lost = docker_lines(iptables_save(world))
    assert lost["nat"] == [line for line in expected["nat"] if "MASQUERADE" not in line]
    world.run(["iptables", "-w", "-P", "FORWARD", "ACCEPT"])
    assert docker_lines(iptables_save(world))["filter"][0] == ":FORWARD ACCEPT [0:0]"


# -- the churner -------------------------------------------------------------


def test_expected_churn_lines() -> None:
    """The documented end state: the even numbers' rules, ascending, in both chains."""
    assert expected_churn_lines(3) == {
        "filter": ["-A INPUT -s 192.0.2.0/32 -m comment --comment churn-0 -j ACCEPT",
                   "-A INPUT -s 192.0.2.2/32 -m comment --comment churn-2 -j ACCEPT"],
        "nat": ["-A POSTROUTING -s 192.0.2.0/32 -m comment --comment churn-0 -j RETURN",
                "-A POSTROUTING -s 192.0.2.2/32 -m comment --comment churn-2 -j RETURN"],
    }
    assert expected_churn_lines(1, first=7) == {"filter": [], "nat": []}
    for iterations, first in ((0, 0), (10, 250), (1, -1)):
        with pytest.raises(ValueError):
            expected_churn_lines(iterations, first)
    text = ("*filter\n-A INPUT -s 192.0.2.9/32 -m comment --comment churn-9 -j ACCEPT\n"
            "-A INPUT -m comment --comment churned -j ACCEPT\nCOMMIT\n")
    assert churn_lines(text) == {
        "filter": ["-A INPUT -s 192.0.2.9/32 -m comment --comment churn-9 -j ACCEPT"], "nat": []}


def test_churner_end_state(flavour_world: World) -> None:
    """One churner leaves exactly expected_churn_lines, and prints them."""
    world = flavour_world
    result = world.run(churn_command(41), timeout=60)
    expected = expected_churn_lines(41)
    assert churn_lines(iptables_save(world)) == expected
    printed = result.stdout.partition("churn: done")[2]
    assert churn_lines(printed) == expected


def test_churner_reports_failures(world: World) -> None:
    """A failing iptables command makes the churner exit 1 and say which."""
    result = world.run([*churn_command(2), "--iptables", "false"], check=False)
    assert result.returncode == 1
    assert "churn: failed: false -w 10 -t filter -A INPUT" in result.stderr


def test_concurrent_churners_next_to_docker(flavour_world: World) -> None:
    """Two churners at once each get their end state, and Docker's rules stay as they were."""
    world = flavour_world
    expected_docker = docker_lines(make_docker_like(world))
    ranges = ((0, 40), (128, 40))
    churners = [world.popen(churn_command(iterations, first), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True) for first, iterations in ranges]
    for churner in churners:
        with churner:
            output, unused = churner.communicate(timeout=60)
            assert churner.returncode == 0, output
    final = iptables_save(world)
    assert docker_lines(final) == expected_docker
    found = churn_lines(final)
    for first, iterations in ranges:
        expected = expected_churn_lines(iterations, first)
        numbers = range(first, first + iterations)
        # Each churner's own rules, in its order, once each; interleaving is free.
        mine = {table: [line for line in lines if int(line.split("churn-")[1].split()[0]) in numbers]
                for table, lines in found.items()}
        assert mine == expected
    assert sum(map(len, found.values())) == 2 * 2 * 20
