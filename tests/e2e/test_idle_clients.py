#!/usr/bin/env python3
"""Idle and stuck clients: a connection that sends no packet is dropped after --handshake-timeout without the
guest being stopped; --idle-timeout drops a silent client and resumes the guest; TCP keep-alive is on; a client
arriving just after the previous one hung up is served, not refused."""
import shutil

from harness import *
from hostile import *

c = Checker("e2e idle clients")


def pc_of_vcpu0(stub):
    out = run_gdb(stub, ["echo pc:\\n", "p/x $pc", "detach"])
    return value_of(out, "pc")


with LiveSvedbg("--handshake-timeout", "1", "--idle-timeout", "1") as stub:
    # The guest runs: a client continues it and drops.
    s = connect(stub)
    s.sendall(raw_packet("vCont;c"))
    s.recv(16)
    s.close()
    c.expect(stub.wait_log(r"dropped; guest resumed"), "the first client's drop resumed the guest", stub.log())

    # A connection that never sends a packet holds the slot only until the
    # handshake timeout, and never stops the guest.
    s = connect(stub)
    c.expect(closed_by_peer(s, 15), "a connection with no packet is dropped")
    s.close()
    c.expect(stub.wait_log(r"sent no packet in 1000 ms: disconnected"), "the handshake timeout is logged", stub.log())
    c.expect(stub.wait_log(r"closed without a packet; the guest was not stopped"), "the guest was left alone",
             stub.log())

    # A client that asked something and then went silent while the guest is
    # stopped is dropped after the idle timeout; the guest runs on.
    # It moves vCPU 0 back to the start of the NOPs first: only a resumed
    # guest runs on to the `b .` at 0x40000ffc.
    s = connect(stub)
    s.sendall(raw_packet("P20=0000004000000000"))
    payloads, _ = read_packets(s, 1)
    c.expect(payloads == ["OK"], "pc written", repr(payloads))
    c.expect(closed_by_peer(s, 15), "a silent client is dropped after the idle timeout")
    s.close()
    c.expect(stub.wait_log(r"sent nothing for 1000 ms with the guest stopped: disconnected"),
             "the idle timeout is logged", stub.log())
    c.expect(stub.wait_log(r"sent nothing for 1000 ms(.|\n)*dropped; guest resumed"), "the guest was resumed",
             stub.log())
    pc = pc_of_vcpu0(stub)
    c.expect(pc == "0x40000ffc", "after the idle drop the guest ran on to its loop", pc)

    # A client that is waiting for a running guest is not idle.
    s = connect(stub)
    s.sendall(raw_packet("vCont;c"))
    c.expect(not closed_by_peer(s, 2.5), "a client waiting for a stop is never idle")
    s.sendall(b"\x03")
    payloads, _ = read_packets(s, 1)
    c.expect(payloads[0].startswith("T02"), "it gets its stop", repr(payloads))
    s.sendall(raw_packet("D"))
    s.close()

with LiveSvedbg() as stub:
    # TCP keep-alive on the daemon's side of a client connection.
    s = connect(stub)
    s.sendall(raw_packet("qSupported"))
    read_packets(s, 1)
    if shutil.which("ss"):
        out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{stub.port} )"],
                             stdout=subprocess.PIPE, text=True).stdout
        c.expect("keepalive" in out, "the client socket has TCP keep-alive", out)
    # The default: no idle timeout; the handshake timeout is 10 s.
    c.expect(not closed_by_peer(s, 1.5), "no idle timeout by default")
    s.close()

    # Hand-over: the previous client has hung up (FIN sent) when the next
    # one arrives; the next one is served, never refused.
    refused = 0
    for i in range(40):
        a = connect(stub)
        a.sendall(raw_packet("qSupported"))
        read_packets(a, 1)
        a.close()
        b = connect(stub)
        b.sendall(raw_packet("qC"))
        payloads, _ = read_packets(b, 1)
        if payloads[0].startswith("E.svedbg"):
            refused += 1
        b.close()
    c.expect(refused == 0, "a client arriving right after a hang-up is served", f"{refused} of 40 refused")

    # The previous client half-closed and is still reading the replies it
    # pipelined when the next one arrives: the next one is served once
    # those are sent, not refused.
    reads = 17
    a = connect(stub, timeout=30)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.sendall(b"".join(raw_packet(f"m{0x40000000 + 0x10000 * (i % 16):x},10000") for i in range(reads)))
    a.shutdown(socket.SHUT_WR)
    data = a.recv(4096)  # its replies have started: the daemon read its requests
    b = connect(stub, timeout=30)
    b.sendall(raw_packet("qC"))
    data += read_to_eof(a)
    a.close()
    c.expect(len(parse_packets(data)) == reads, "the half-closed client got all its replies", f"{len(data)} bytes")
    payloads, _ = read_packets(b, 1)
    c.expect(payloads == ["QC1"], "the next client is served after it, not refused", repr(payloads))
    b.close()
c.done()
