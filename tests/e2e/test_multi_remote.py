#!/usr/bin/env python3
"""Peers without identity: a client reaching the daemon on a non-loopback address of this host is
refused by default, with the reason (serve --sim and serve --multi --sim); with
--allow-remote-unauthenticated it is served, and may debug only the daemon's own uid's VMMs."""
import socket

from harness import *
from multi_harness import *

c = Checker("e2e multi remote")


def own_address():
    """A non-loopback IPv4 address of this host (the source address of its default route), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent for a UDP connect
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


addr = own_address()
if addr is None:
    c.skip("a non-loopback peer", "this host has no non-loopback IPv4 address")
    c.done()

with Svedbg(listen=f"{addr}:0") as stub:
    out = run_gdb(stub, ["info threads"], check=False)
    c.expect_re(rf"Remote failure reply: E\.svedbg: refused: connection from {re.escape(addr)}:\d+ has no identity",
                out, "serve --sim: a non-loopback peer is refused, with the reason")
    stub.wait_log(r"warning: listening on \S+, which is not a loopback address")
with MultiStub(listen=f"{addr}:0") as stub:
    out = gdb_ext(stub, ["info os processes"], check=False)
    c.expect_in("has no identity", out, "serve --multi: a non-loopback peer is refused")
    stub.wait_log(r"refusing \S+: connection from \S+ has no identity")
with MultiStub("--allow-remote-unauthenticated", listen=f"{addr}:0") as stub:
    pid = stub.proc.pid
    stub.wait_log(r"warning: .* are allowed \(--allow-remote-unauthenticated\)")  # said at start
    out = gdb_ext(stub, ["info os processes", f"attach {pid}", "echo vg:\\n", "p $vg", "detach"])
    c.expect_re(rf"^{pid}\s+root\s", out, "the daemon's own VMM is listed")
    c.expect(value_of(out, "vg") == "32", "and attached", out)
    stub.wait_log(rf"unauthenticated {re.escape(addr)}:\d+ attached pid {pid}")
c.done()
