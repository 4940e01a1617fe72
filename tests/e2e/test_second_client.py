#!/usr/bin/env python3
"""One gdb at a time: a second real gdb-multiarch is told why it cannot attach."""
import socket

from harness import *

c = Checker("e2e second client")
with Svedbg() as stub:
    first = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    first.sendall(raw_packet("qSupported"))
    first.recv(4096)
    out = run_gdb(stub, ["info threads"], check=False)
    c.expect_in("warning: Remote failure reply: E.svedbg: another gdb client is already connected", out,
                "the second gdb prints the refusal")
    c.expect_in("No threads.", out, "the second gdb did not attach")
    first.sendall(raw_packet("D"))
    first.recv(4096)
    first.close()
    stub.wait_clients_done(1)
    out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
    c.expect(value_of(out, "vg") == "32", "after the first client left, gdb attaches", out)
c.done()
