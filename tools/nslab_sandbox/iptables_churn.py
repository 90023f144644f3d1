# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Another tool writing iptables rules while the product runs: the churner.

Run it in the world, next to the product, as a plain file (it needs the
standard library only)::

    churner = world.popen(churn_command(40), stdout=subprocess.PIPE, text=True)

``python -m nslab_sandbox.iptables_churn`` works too, but runpy warns there
because the package imports this module. With ``iptables -w`` of the current
flavour, iteration N appends

* filter INPUT:     ``-s 192.0.2.N/32 -m comment --comment churn-N -j ACCEPT``
* nat POSTROUTING:  ``-s 192.0.2.N/32 -m comment --comment churn-N -j RETURN``

and deletes the two rules of N-1 when N-1 is odd (after the last iteration the
last N's rules go too when N is odd). So odd rules live for one iteration and
**at the end exactly the rules of the even N remain, once each, in ascending
order** in both chains: :func:`expected_churn_lines`. A product that rewrites
a table from a stale copy loses some or brings back deleted ones, which
:func:`churn_lines` of the final ruleset shows. Two churners can run at once
on disjoint ranges (``--first``).

It runs a bounded number of commands (4 per iteration at most, each with a
time limit), exits 0 when all succeeded and prints the rules it expects to
remain, as iptables-save would show them; 1 when a command failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence

#: (table, chain, target) of the churner's rules.
CHURN_CHAINS = (("filter", "INPUT", "ACCEPT"), ("nat", "POSTROUTING", "RETURN"))
#: Source network of the churner's rules (TEST-NET-1): 192.0.2.N for N in 0..255.
CHURN_NETWORK = "192.0.2"
_MAX_ADDRESS = 255
_COMMAND_TIMEOUT = 30
# Any rule of any churner, in a normalized iptables-save text.
_CHURN_LINE = re.compile(r"\s--comment \"?churn-\d+\"?(\s|$)")


def churn_rule(number: int, target: str) -> list[str]:
    """The rule specification (after ``-A CHAIN``) of the churner's rule number *number*."""
    return ["-s", f"{CHURN_NETWORK}.{number}/32", "-m", "comment", "--comment", f"churn-{number}",
            "-j", target]


def churn_command(iterations: int, first: int = 0, delay: float = 0.0) -> list[str]:
    """The command line that runs the churner (for :meth:`World.run` or :meth:`World.popen`)."""
    _check_range(iterations, first)
    return [sys.executable, os.path.abspath(__file__), "--iterations", str(iterations), "--first", str(first),
            "--delay", str(delay)]


def _check_range(iterations: int, first: int) -> None:
    if iterations < 1 or first < 0 or first + iterations - 1 > _MAX_ADDRESS:
        raise ValueError(f"iterations {iterations} from {first}: the rule numbers must lie in 0..{_MAX_ADDRESS}")


def expected_churn_lines(iterations: int, first: int = 0) -> dict[str, list[str]]:
    """Table -> the churner's lines (iptables-save form) that remain after a run.

    That is, for ``--iterations ITERATIONS --first FIRST``, the rules of the
    even numbers in ``FIRST .. FIRST + ITERATIONS - 1``, ascending, in filter
    INPUT and nat POSTROUTING. Both tables are keys even when empty.
    """
    _check_range(iterations, first)
    kept = [number for number in range(first, first + iterations) if number % 2 == 0]
    return {table: [" ".join(["-A", chain, *churn_rule(number, target)]) for number in kept]
            for table, chain, target in CHURN_CHAINS}


def churn_lines(text: str) -> dict[str, list[str]]:
    """Table -> the churners' rules (any chain, any number) in an iptables-save *text*, in order.

    The churner's tables are keys even when they hold none, so the result
    compares with :func:`expected_churn_lines` directly.
    """
    result: dict[str, list[str]] = {table: [] for table, _chain, _target in CHURN_CHAINS}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith("-A ") and _CHURN_LINE.search(line):
            result.setdefault(table, []).append(line.rstrip())
    return result


class ChurnError(RuntimeError):
    """An iptables command of the churner failed or hung."""


def _iptables(command: Sequence[str]) -> None:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=_COMMAND_TIMEOUT,
                                check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise ChurnError(f"{' '.join(command)}: no answer within {_COMMAND_TIMEOUT} s") from error
    except OSError as error:
        raise ChurnError(f"{' '.join(command)}: {error}") from error
    if result.returncode != 0:
        raise ChurnError(f"{' '.join(command)}: exit code {result.returncode}: "
                         f"{(result.stderr or result.stdout).strip()}")


def churn(iterations: int, first: int = 0, iptables: str = "iptables", wait: int = 10,
          delay: float = 0.0) -> None:
    """Add and delete the churner's rules (see the module docstring); raise ChurnError on failure.

    *wait* seconds is what ``-w`` lets each command wait for the legacy
    flavour's lock; *delay* seconds pass between iterations.
    """
    _check_range(iterations, first)

    def change(action: str, number: int) -> None:
        for table, chain, target in CHURN_CHAINS:
            _iptables([iptables, "-w", str(wait), "-t", table, action, chain, *churn_rule(number, target)])

    last = first + iterations - 1
    for number in range(first, last + 1):
        change("-A", number)
        # Odd rules go one iteration late, so that each lives while others come.
        if number > first and (number - 1) % 2:
            change("-D", number - 1)
        if delay:
            time.sleep(delay)
    if last % 2:
        change("-D", last)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the churner, print the expected end state; exit status 0 or 1."""
    parser = argparse.ArgumentParser(prog="iptables_churn", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=40, help="rules to add (default 40)")
    parser.add_argument("--first", type=int, default=0, help="number of the first rule (default 0)")
    parser.add_argument("--iptables", default="iptables", help="command to run (default: iptables on PATH)")
    parser.add_argument("--wait", type=int, default=10, help="seconds for -w (default 10)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between iterations (default 0)")
    args = parser.parse_args(argv)
    try:
        _check_range(args.iterations, args.first)
    except ValueError as error:
        parser.error(str(error))
    print(f"churn: {args.iterations} iterations from {CHURN_NETWORK}.{args.first}", flush=True)
    try:
        churn(args.iterations, args.first, args.iptables, args.wait, args.delay)
    except ChurnError as error:
        print(f"churn: failed: {error}", file=sys.stderr)
        return 1
    expected = expected_churn_lines(args.iterations, args.first)
    print(f"churn: done; expecting these {sum(map(len, expected.values()))} churn rules:")
    for table, lines in expected.items():
        print(f"*{table}")
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
