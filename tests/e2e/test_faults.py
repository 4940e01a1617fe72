#!/usr/bin/env python3
"""Faults and safe defaults: drops mid-packet, mid-reply and mid-continue, garbage, a client
that never reads, --read-only, non-loopback warning, SIGTERM while attached."""
import os
import re
import signal
import struct
import subprocess

from harness import *

c = Checker("e2e faults")


def connect(stub):
    s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    s.settimeout(10)
    return s


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# Under AddressSanitizer (tools/sanitize-test) freed memory is quarantined,
# up to 256 MiB by default, so RSS would measure ASan rather than svedbg's
# live memory: this daemon runs without the quarantine.
daemon_env = dict(os.environ)
if "ASAN_OPTIONS" in daemon_env:
    daemon_env["ASAN_OPTIONS"] += ":quarantine_size_mb=0"
with Svedbg(env=daemon_env) as stub:
    # Garbage, then a packet cut in the middle, then the client vanishes.
    s = connect(stub)
    s.sendall(os.urandom(4096).replace(b"$", b"x") + b"$m40000000,4#")
    s.close()
    stub.wait_clients_done(1)
    # A continue, then the client drops: the guest runs on (detached); the
    # next client finds it and stops it again.
    s = connect(stub)
    s.sendall(raw_packet("vCont;c"))
    s.recv(16)
    s.close()
    stub.wait_clients_done(2)
    # Mid-reply: the client reads the start of a 64 KiB reply (a 32 KiB `m`)
    # and resets the connection while the daemon is still writing it.
    s = connect(stub)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"+" + raw_packet("m40000000,8000"))
    head = s.recv(64)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    # The memory reply (the NOPs at 0x40000000), not a refusal or an error.
    c.expect(head.startswith(b"+$1f2003d51f2003d5"), "the large reply had started when the client reset",
             repr(head))
    stub.wait_clients_done(3)
    out = run_gdb(stub, ["echo pc:\\n", "p/x $pc", "detach"])
    c.expect(value_of(out, "pc") == "0x40000ffc",
             "after drops mid-packet, mid-continue and mid-reply a new gdb attaches (the guest ran on to its loop)",
             out)
    # A client that sends requests but never reads the replies.
    rss_before = rss_kib(stub.proc.pid)
    s = connect(stub)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for _ in range(4000):
            s.sendall(raw_packet("g"))
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    # It is cut once none of its pending output was consumed for 10 s.
    stub.wait_log("stopped reading replies", timeout=90)
    rss_after = rss_kib(stub.proc.pid)
    c.expect(rss_after - rss_before < 64 * 1024, "pending output is bounded (RSS grew by less than 64 MiB)",
             f"{rss_before} KiB -> {rss_after} KiB")
    # The daemon hung up: reading what it had sent ends in EOF or a reset, not in the timeout.
    dropped = False
    try:
        while s.recv(1 << 20):
            pass
        dropped = True
    except ConnectionResetError:
        dropped = True
    except socket.timeout:
        pass
    c.expect(dropped, "the daemon disconnected the client that does not read")
    s.close()
    stub.wait_clients_done(5)
    out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
    c.expect(value_of(out, "vg") == "32", "the daemon serves the next client after a non-reading one", out)
    c.expect(stub.alive(), "daemon alive after faults")
c.expect_in("stopped reading replies", stub.stderr, "the non-reading client was disconnected, with a log line")
c.expect_re(r"client 127\.0\.0\.1:\d+ dropped; guest resumed$", stub.stderr, "a drop is logged as resuming the guest")

# The VMM exits under the debugger: gdb is told the process is gone (X09)
# and the daemon keeps serving.
with Svedbg() as stub:
    out = run_gdb(stub, ["monitor sim vmm-exit", "continue", "info threads"], check=False)
    c.expect_in("Program terminated with signal SIGKILL, Killed.", out, "VMM exit: gdb reports the process gone")
    c.expect_in("No threads.", out, "VMM exit: gdb forgets the threads")
    stub.wait_clients_done(1)
    c.expect(stub.alive(), "the daemon survives the VMM's exit")
# gdb hangs up after X09 without `D`: nothing was left to resume.
c.expect_re(r"client 127\.0\.0\.1:\d+ dropped; the guest had exited$", stub.stderr,
            "VMM exit: the drop is logged as the guest having exited")
c.expect("guest resumed" not in stub.stderr, "VMM exit: the log does not claim the guest was resumed", stub.stderr)
# The VMM goes while a client is attached, and the client drops before any
# stop reply told it so: the backend, not the last stop, says the guest is gone.
with Svedbg() as stub:
    s = connect(stub)
    s.sendall(raw_packet("qRcmd," + "sim vmm-exit".encode().hex()))
    got = b""
    while not re.search(rb"\$[0-9a-f]+#", got):  # the command's output, hex: it ran
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    c.expect_in(b"the simulated VMM exited".hex().encode(), got, "the raw client's monitor command ran")
    s.close()
    stub.wait_clients_done(1)
    c.expect(stub.alive(), "daemon alive after a drop with the VMM gone")
c.expect_re(r"client 127\.0\.0\.1:\d+ dropped; the guest had exited$", stub.stderr,
            "VMM gone before any stop reply: the drop is logged as the guest having exited")
c.expect("guest resumed" not in stub.stderr, "VMM gone, no stop reply: no claim the guest was resumed", stub.stderr)

# --read-only: writes are refused with a clear error, reads and stepping work.
with Svedbg("--read-only") as stub:
    out = run_gdb(stub, ["set $x3 = 77", "echo x3:\\n", "p $x3",
                         "set {char}0x40002000 = 1", "echo m:\\n", "p/x *(unsigned char*)0x40002000",
                         "monitor sim set-vl 0 128", "stepi", "echo pc:\\n", "p/x $pc", "detach"], check=False)
    c.expect_re(r"Could not write register \"x3\"", out, "--read-only refuses register writes")
    c.expect(value_of(out, "x3") == "3", "x3 unchanged", out)
    c.expect_re(r"Cannot access memory at address 0x40002000", out, "--read-only refuses memory writes")
    c.expect(value_of(out, "m") == hex(0x2000 % 251), "memory unchanged", out)
    c.expect_re(r"error: 'sim set-vl 0 128' not run: svedbg runs --read-only", out, "monitor writes refused")
    c.expect(value_of(out, "pc") == "0x40000004", "stepping still works", out)

# Listening beyond loopback is allowed but warned about.
with Svedbg(listen="0.0.0.0:0") as stub:
    out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
    c.expect(value_of(out, "vg") == "32", "served on 0.0.0.0", out)
c.expect_in("warning: listening on 0.0.0.0", stub.stderr, "non-loopback listen address warned about")

# SIGTERM while a client is attached: the guest is detached (left running
# with its state), the daemon exits 0.
with Svedbg() as stub:
    s = connect(stub)
    s.sendall(raw_packet("qSupported"))
    s.recv(4096)
    stub.proc.send_signal(signal.SIGTERM)
    try:
        stub.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    c.expect(stub.proc.returncode == 0, "SIGTERM while attached: clean exit", str(stub.proc.returncode))
    s.close()
c.done()
