# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small DNS server for sandbox worlds: answers A queries from a table, or relays them.

    python3 dns_server.py [--bind ADDR] [--port 53] [--forward ADDR[:PORT]] [--log PATH] [NAME=ADDRESS...]
    python -m nslab_sandbox dns [the same options]

It listens on UDP and TCP at ADDR:PORT (default 127.0.0.1:53). A query for a NAME of the
table (case-insensitive, with or without the trailing dot; a NAME given several times has
several addresses) gets its A records (TTL 60), or no record and no error (NOERROR) when it
asks for another type (AAAA, MX...). Any other name gets NXDOMAIN, or, with ``--forward``,
the answer of that server (over UDP, 2 s; SERVFAIL when it does not answer): a stub like
systemd-resolved's on 127.0.0.53 or dnsmasq's on 127.0.0.1. Answers with the table's names are
authoritative (AA) and every answer claims recursion (RA), as a resolver's do.

Once it listens it prints ``nslab-dns-ready`` on stdout, then nothing. It runs until
SIGTERM or SIGINT, or until its stdin reaches end of file when stdin is a pipe or a socket
(a lifeline: it dies with whoever holds the other end); stdin from /dev/null or a file is
not watched. With ``--log``, each query appends a line ``CLIENT NAME TYPE RESULT`` to PATH
(RESULT: an address list, NODATA, NXDOMAIN, or ``forwarded RCODE`` / ``forward-timeout``).

Standard library only; any Python 3.8 or later. No traffic leaves for anywhere but the
forward server.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import threading
from collections.abc import Mapping, Sequence

READY_MARKER = "nslab-dns-ready"
TTL = 60
FORWARD_TIMEOUT = 2.0
TYPE_A, TYPE_ANY = 1, 255
CLASS_IN = 1
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP, FORMERR = 0, 2, 3, 4, 1
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
              33: "SRV", 65: "HTTPS", 255: "ANY"}


class Query:
    """The parts of a DNS query this server uses."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 12:
            raise ValueError("shorter than a DNS header")
        self.id, self.flags, self.qdcount = struct.unpack("!HHH", data[:6])
        self.opcode = (self.flags >> 11) & 0xF
        if self.flags & 0x8000 or self.qdcount != 1:
            raise ValueError("not a query with one question")
        labels = []
        offset = 12
        while True:
            if offset >= len(data):
                raise ValueError("question runs past the end")
            length = data[offset]
            offset += 1
            if length == 0:
                break
            if length & 0xC0:
                raise ValueError("compressed name in the question")
            labels.append(data[offset:offset + length].decode("ascii", "replace"))
            offset += length
        if offset + 4 > len(data):
            raise ValueError("question without type and class")
        self.qtype, self.qclass = struct.unpack("!HH", data[offset:offset + 4])
        self.name = ".".join(labels)
        self.question = data[12:offset + 4]

    def answer(self, rcode: int, addresses: Sequence[str] = (), authoritative: bool = True) -> bytes:
        flags = 0x8000 | (self.opcode << 11) | (self.flags & 0x0100) | 0x0080 | rcode
        if authoritative:
            flags |= 0x0400
        header = struct.pack("!HHHHHH", self.id, flags, 1, len(addresses), 0, 0)
        records = b"".join(struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(address)
                           for address in addresses)
        return header + self.question + records


def normal_name(name: str) -> str:
    return name.rstrip(".").lower()


def parse_table(entries: Sequence[str]) -> dict[str, list[str]]:
    """``NAME=ADDRESS`` strings -> {normalised name: [addresses]}."""
    table: dict[str, list[str]] = {}
    for entry in entries:
        name, sep, address = entry.partition("=")
        if not sep or not normal_name(name):
            raise ValueError(f"not NAME=ADDRESS: {entry!r}")
        table.setdefault(normal_name(name), []).append(str(ipaddress.IPv4Address(address.strip())))
    return table


def parse_server(text: str, default_port: int = 53) -> tuple[str, int]:
    address, sep, port = text.partition(":")
    return str(ipaddress.IPv4Address(address)), int(port) if sep else default_port


class Resolver:
    """Answers one query (the wire bytes) from the table or through the forward server."""

    def __init__(self, table: Mapping[str, Sequence[str]], forward: tuple[str, int] | None,
                 log: str | None) -> None:
        self.table = table
        self.forward = forward
        self.log_path = log
        self._log_lock = threading.Lock()

    def resolve(self, data: bytes, client: str) -> bytes | None:
        try:
            query = Query(data)
        except ValueError:
            if len(data) >= 12:
                # FORMERR with the header's ID and no question.
                return data[:2] + struct.pack("!HHHHH", 0x8000 | 0x0080 | FORMERR, 0, 0, 0, 0)
            return None
        type_name = TYPE_NAMES.get(query.qtype, str(query.qtype))
        if query.opcode != 0:
            self._log(client, query.name, type_name, "NOTIMP")
            return query.answer(NOTIMP, authoritative=False)
        addresses = self.table.get(normal_name(query.name))
        if addresses is not None:
            wanted = list(addresses) if query.qtype in (TYPE_A, TYPE_ANY) and query.qclass == CLASS_IN else []
            self._log(client, query.name, type_name, ",".join(wanted) or "NODATA")
            return query.answer(NOERROR, wanted)
        if self.forward is None:
            self._log(client, query.name, type_name, "NXDOMAIN")
            return query.answer(NXDOMAIN)
        reply = self._relay(data)
        if reply is None:
            self._log(client, query.name, type_name, "forward-timeout")
            return query.answer(SERVFAIL, authoritative=False)
        self._log(client, query.name, type_name, f"forwarded {reply[3] & 0xF if len(reply) > 3 else '?'}")
        return reply

    def _relay(self, data: bytes) -> bytes | None:
        assert self.forward is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(FORWARD_TIMEOUT)
            try:
                sock.connect(self.forward)
                sock.send(data)
                while True:
                    reply = sock.recv(65535)
                    if reply[:2] == data[:2]:
                        return reply
            except OSError:  # socket.timeout is one
                return None

    def _log(self, client: str, name: str, type_name: str, result: str) -> None:
        if not self.log_path:
            return
        with self._log_lock, open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(f"{client} {name or '.'} {type_name} {result}\n")


def serve_udp(sock: socket.socket, resolver: Resolver) -> None:
    def answer(data: bytes, peer: tuple[str, int]) -> None:
        reply = resolver.resolve(data, peer[0])
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass

    while True:
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            return
        if resolver.forward is not None:
            threading.Thread(target=answer, args=(data, peer), daemon=True).start()
        else:
            answer(data, peer)


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve_tcp_client(conn: socket.socket, peer: str, resolver: Resolver) -> None:
    with conn:
        conn.settimeout(10)
        try:
            while True:
                head = _read_exactly(conn, 2)
                if head is None:
                    return
                data = _read_exactly(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                reply = resolver.resolve(data, peer)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def serve_tcp(sock: socket.socket, resolver: Resolver) -> None:
    while True:
        try:
            conn, peer = sock.accept()
        except OSError:
            return
        threading.Thread(target=serve_tcp_client, args=(conn, peer[0], resolver), daemon=True).start()


def _stdin_is_lifeline() -> bool:
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT or the end of a piped stdin."""
    parser = argparse.ArgumentParser(prog="dns_server.py", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1", help="IPv4 address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=53, help="UDP and TCP port (default 53)")
    parser.add_argument("--forward", metavar="ADDR[:PORT]", help="relay names not in the table to this server")
    parser.add_argument("--log", metavar="PATH", help="append a line per query to PATH")
    parser.add_argument("--no-tcp", action="store_true", help="UDP only")
    parser.add_argument("records", nargs="*", metavar="NAME=ADDRESS", help="A records of the table")
    args = parser.parse_args(argv)
    try:
        table = parse_table(args.records)
        forward = parse_server(args.forward) if args.forward else None
    except ValueError as error:
        parser.error(str(error))
    resolver = Resolver(table, forward, args.log)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((args.bind, args.port))
    servers = [threading.Thread(target=serve_udp, args=(udp, resolver), daemon=True)]
    if not args.no_tcp:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((args.bind, args.port))
        tcp.listen(16)
        servers.append(threading.Thread(target=serve_tcp, args=(tcp, resolver), daemon=True))

    wake_read, wake_write = os.pipe()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: os.write(wake_write, b"x"))
    for thread in servers:
        thread.start()
    print(READY_MARKER, flush=True)
    with selectors.DefaultSelector() as selector:
        selector.register(wake_read, selectors.EVENT_READ)
        if _stdin_is_lifeline():
            selector.register(0, selectors.EVENT_READ)
        while True:
            events = selector.select()
            if any(key.fd == wake_read for key, unused_mask in events):
                return 0
            try:
                if not os.read(0, 65536):
                    return 0
            except OSError:
                return 0


if __name__ == "__main__":
    sys.exit(main())
