#!/usr/bin/env python3
"""Half-closed sockets and pipelined requests: a client that shuts down its write side gets every reply it asked
for; 17 pipelined 64 KiB reads in one write are all answered to a client that reads them, however slowly; a
client that reads nothing is cut after the write stall timeout, not after one burst."""
from harness import *
from hostile import *

c = Checker("e2e half-close")
READS = 17
# The guest has 1 MiB of RAM: the 17th read is of the first 64 KiB again.
requests = b"".join(raw_packet(f"m{0x40000000 + 0x10000 * (i % 16):x},10000") for i in range(READS))
expected = [memory_hex(0x10000 * (i % 16), 0x10000) for i in range(READS)]

with LiveSvedbg("--write-stall-timeout", "3") as stub:
    # One request, then the client shuts its write side: the whole reply.
    s = connect(stub)
    s.sendall(raw_packet("m40000000,10000"))
    s.shutdown(socket.SHUT_WR)
    data = read_to_eof(s)
    s.close()
    c.expect(parse_packets(data) == expected[:1], "a half-closed client gets its whole 64 KiB reply", f"{len(data)} bytes")

    # 17 pipelined reads, then the half-close: all 17 replies.
    s = connect(stub)
    s.sendall(requests)
    s.shutdown(socket.SHUT_WR)
    data = read_to_eof(s)
    s.close()
    c.expect(parse_packets(data) == expected, "a half-closed client gets all 17 pipelined replies", f"{len(data)} bytes")

    # 17 pipelined reads in no-ack mode, read in small pieces by a slow
    # reader: all answered, nobody cut.
    s = connect(stub, timeout=30)
    s.sendall(raw_packet("QStartNoAckMode"))
    read_packets(s, 1)
    s.sendall(b"+" + requests)
    buf = b""
    while buf.count(b"#") < READS:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    c.expect(parse_packets(buf) == expected, "a slow reader gets all 17 pipelined replies", f"{len(buf)} bytes")
    s.sendall(raw_packet("D"))
    s.close()
    c.expect("stopped reading" not in stub.log(), "the slow reader was not cut", stub.log())

    # A client that pipelines more than the sockets' buffers hold (64
    # reads, 8 MiB of replies) and reads nothing: cut once nothing was
    # consumed for the stall timeout.
    s = connect(stub, timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(raw_packet("QStartNoAckMode") + b"+" + requests * 4)
    c.expect(stub.wait_log(r"stopped reading replies \(no output consumed for 3000 ms\)"),
             "a reader that reads nothing is cut after the stall timeout", stub.log())
    s.close()
    c.expect(stub.wait_log(r"dropped; guest resumed\n(.|\n)*dropped; guest resumed"), "its drop was handled",
             stub.log())
    out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
    c.expect(value_of(out, "vg") == "32", "the next gdb is served", out)

# README quotes the pending-output cap that the code enforces.
readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "reliability.md")).read()
c.expect("4 MiB" in readme, "docs/reliability.md states the 4 MiB cap")
session_hpp = open(os.path.join(os.path.dirname(__file__), "..", "..", "gdbstub", "session.hpp")).read()
c.expect("kMaxPendingOutput = 4 << 20" in session_hpp, "the code's cap is 4 MiB")
c.done()
