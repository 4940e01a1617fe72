"""Helpers for the `serve --multi` e2e tests (test_multi*.py)."""
from harness import *


class MultiStub(Svedbg):
    """`svedbg serve --multi --sim` on an ephemeral port (or a unix socket)."""

    def __enter__(self):
        return self.start([SVEDBG, "serve", "--multi", "--sim", "--listen", self.listen] + self.args)


def gdb_ext(stub, commands, **kw):
    return run_gdb(stub, [f"target extended-remote {stub.target()}"] + commands, connect=False, **kw)


def exchange(sock, payload):
    """Sends one packet (ack mode), returns the decoded reply payload."""
    sock.sendall(raw_packet(payload))
    data = b""
    while True:
        data += sock.recv(65536)
        text = data.decode("latin-1").lstrip("+")
        if text.startswith("$") and "#" in text and len(text) >= text.index("#") + 3:
            sock.sendall(b"+")
            return decode_payload(text[1:text.index("#")])
