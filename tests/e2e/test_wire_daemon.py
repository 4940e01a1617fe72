#!/usr/bin/env python3
"""Raw protocol against the real daemon: bad input, interrupts, the one-client rule, unix sockets."""
import os
import stat
import tempfile

from harness import *


class Client:
    def __init__(self, stub):
        if stub.address.startswith("unix:"):
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.connect(stub.target())
        else:
            self.s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
        self.s.settimeout(10)
        self.buf = b""

    def send(self, raw):
        self.s.sendall(raw)

    def read_packet(self):
        """Returns (acks_before, payload) of the next packet."""
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    acks = self.buf[:start].decode("latin-1")
                    payload = decode_payload(self.buf[start + 1:end].decode("latin-1"))
                    self.buf = self.buf[end + 3:]
                    return acks, payload
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def ask(self, payload):
        self.send(raw_packet(payload))
        return self.read_packet()[1]

    def close(self):
        self.s.close()


c = Checker("e2e wire daemon")
with Svedbg() as stub:
    cl = Client(stub)
    cl.send(raw_packet("qSupported:multiprocess+"))
    acks, reply = cl.read_packet()
    c.expect(acks == "+", "packets are acked before the reply", repr(acks))
    c.expect("PacketSize=" in reply and "qXfer:features:read+" in reply and "QStartNoAckMode+" in reply
             and "vContSupported+" in reply and "qXfer:threads:read+" in reply, "qSupported features", reply)
    c.expect(cl.ask("?").startswith("T05thread:1;"), "halt reason after attach", "")

    # Bad checksum -> NAK; the session goes on.
    cl.send(b"$g#00")
    got = cl.s.recv(1)
    c.expect(got == b"-", "bad checksum is NAKed", repr(got))
    bad = {
        "pzz": "E16",          # not a register number
        "p1000": "E02",        # outside the description (ENOENT)
        "m40000000": "E16",    # missing length
        "mffffffffffff0000,10": "E0e",  # not guest RAM
        "M40000000,2:00": "E16",        # length mismatch
        "Hg99": "E03",         # unknown thread (ESRCH)
        "T99": "E03",
        "qThreadExtraInfo,63": "E03",
        "Pzz=00": "E16",
        "P55=0300000000000000": "E01",  # vg is read-only (EPERM)
        "qXfer:features:read:nonesuch.xml:0,100": "E02",
    }
    for pkt, want in bad.items():
        r = cl.ask(pkt)
        c.expect(r == want, f"{pkt!r} -> {want}", f"got {r!r}")
    c.expect(cl.ask("vMustReplyEmpty") == "", "unknown packet -> empty reply", "")
    c.expect(cl.ask("qTStatus") == "", "qTStatus -> empty", "")
    # Overlong packet: error reply, the daemon survives.
    big = "X" * 0x30000
    r = cl.ask("M40000000,1:" + big)
    c.expect(r == "E07", "overlong packet -> E07 (E2BIG)", f"got {r[:40]!r}")
    c.expect(cl.ask("m40000000,4") == "1f2003d5", "session continues after bad input", "")
    # Memory write then read back, and a register write.
    c.expect(cl.ask("M40002000,4:deadbeef") == "OK", "M writes RAM", "")
    c.expect(cl.ask("m40002000,4") == "deadbeef", "m reads it back", "")
    c.expect(cl.ask("Hg2") == "OK", "Hg2", "")
    c.expect(cl.ask("P7=efbeadde00000000") == "OK", "P writes x7", "")
    c.expect(cl.ask("p7") == "efbeadde00000000", "p reads x7 back", "")
    # qXfer chunking: the whole document arrives in m/l chunks.
    doc, off = "", 0
    while True:
        r = cl.ask(f"qXfer:features:read:target.xml:{off:x},100")
        doc += r[1:]
        off += len(r) - 1
        if r.startswith("l"):
            break
        c.expect(r.startswith("m") and len(r) == 0x101, "qXfer chunk size follows the request", r[:20])
    c.expect(doc.startswith("<?xml") and doc.rstrip().endswith("</target>") and 'name="org.gnu.gdb.aarch64.sve"' in doc,
             "target.xml assembled from chunks", doc[-80:])
    # Continue, then 0x03 interrupts; the stop reply carries thread and vg.
    cl.send(raw_packet("vCont;c"))
    c.expect(cl.s.recv(1) == b"+", "vCont;c acked", "")
    cl.send(b"\x03")
    acks, r = cl.read_packet()
    c.expect(r.startswith("T02thread:") and ";55:" in r and ";20:" in r, "interrupt -> T02 with expedited pc and vg", r)
    # Second client while the first is attached: refused with a reason.
    other = Client(stub)
    other.send(raw_packet("qSupported"))
    try:
        _, r = other.read_packet()
    except EOFError:
        r = ""
    c.expect(r.startswith("E.") and "already connected" in r, "a second client is refused with a message", r)
    other.close()
    # NoAck mode.
    c.expect(cl.ask("QStartNoAckMode") == "OK", "QStartNoAckMode", "")
    cl.send(b"+")
    cl.send(raw_packet("qC"))
    acks, r = cl.read_packet()
    c.expect(acks == "" and r.startswith("QC"), "no acks after QStartNoAckMode", repr(acks))
    # Drop the connection without detaching: the daemon waits for the next client.
    cl.close()
    stub.wait_clients_done(1)
    cl2 = Client(stub)
    cl2.send(raw_packet("qSupported"))
    _, r = cl2.read_packet()
    c.expect("PacketSize" in r, "a new client is served after the first dropped", r)
    c.expect(cl2.ask("D") == "OK", "detach replies OK", "")
    cl2.close()
    c.expect(stub.alive(), "daemon survived all of the above")

# Unix socket: created 0600, served like TCP.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "svedbg.sock")
    with Svedbg(listen="unix:" + path) as stub:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        c.expect(mode == 0o600, "unix socket is created 0600", oct(mode))
        out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
        c.expect(value_of(out, "vg") == "32", "gdb over a unix socket", out)
    c.expect(not os.path.exists(path), "socket file removed at exit")
c.done()
