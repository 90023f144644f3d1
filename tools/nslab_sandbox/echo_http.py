# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP server of the sandbox's "internet" node: answers with the client's address.

Every GET (or HEAD) gets a ``200 text/plain`` answer whose body is the source
address the server saw, followed by a newline. NAT tests use it to tell
whether a container's traffic was masqueraded (they see the host's uplink
address) or not (they see the container's own address, or nothing at all).

Run as ``python3 echo_http.py [--bind ADDR] [--port PORT]``. Once it answers
requests it prints ``nslab-echo-ready`` on stdout; after that it prints nothing.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READY_MARKER = "nslab-echo-ready"


class EchoHandler(BaseHTTPRequestHandler):
    """Answer every request with the client address."""

    server_version = "nslab-echo/1"
    protocol_version = "HTTP/1.0"

    def _answer(self, with_body: bool) -> None:
        body = f"{self.client_address[0]}\n".encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=us-ascii")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        """Handle GET (method name imposed by BaseHTTPRequestHandler)."""
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # pylint: disable=invalid-name
        """Handle HEAD (method name imposed by BaseHTTPRequestHandler)."""
        self._answer(with_body=False)

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        # Quiet: nobody reads our stdout/stderr once we are ready, and a pipe
        # that fills up would block the server.
        return


class EchoServer(ThreadingHTTPServer):
    """Threading server that never writes tracebacks (clients may reset connections)."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        return


def _self_check(port: int) -> None:
    """Fetch our own page once, so "ready" means "answers", not just "listens"."""
    # http.client rather than urllib: urllib would honour *_proxy variables.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode("ascii", "replace")
    finally:
        conn.close()
    if response.status != 200 or body.strip() != "127.0.0.1":
        raise RuntimeError(f"self-check failed: {response.status} {body!r}")


def main(argv: list[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default: all IPv4)")
    parser.add_argument("--port", type=int, default=80, help="TCP port (default: 80)")
    args = parser.parse_args(argv)

    server = EchoServer((args.bind, args.port), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, name="echo-http", daemon=True)
    thread.start()
    if args.bind in ("0.0.0.0", "127.0.0.1"):
        _self_check(args.port)
    print(READY_MARKER, flush=True)
    thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
