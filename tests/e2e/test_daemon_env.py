#!/usr/bin/env python3
"""The daemon's own environment: a log pipe whose reader has gone never kills it; every terminating signal a
service manager sends removes the unix socket file; a second daemon's probe of a live socket is not taken for a
gdb client; repeated log lines are rate limited."""
import os
import tempfile

from harness import *
from hostile import *

c = Checker("e2e daemon environment")

# stderr is a pipe whose reader has gone (`svedbg serve ... 2>&1 | head -2`).
r, w = os.pipe()
proc = subprocess.Popen([SVEDBG, "serve", "--sim", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=w,
                        text=True)
os.close(w)
os.close(r)
banner = proc.stdout.readline()
port = int(re.search(r":(\d+)$", banner.strip()).group(1))
proc.stdout.readline()
try:
    for _ in range(3):  # each connection writes log lines into the broken pipe
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(raw_packet("qSupported"))
        read_packets(s, 1)
        s.close()
except OSError as e:
    c.expect(False, "clients are served while the log pipe is broken", str(e))
stub = type("Stub", (), {"target": lambda self: f"127.0.0.1:{port}"})()
out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"], check=False)
c.expect(value_of(out, "vg") == "32", "with its log pipe broken the daemon still serves gdb", out)
c.expect(proc.poll() is None, "the daemon survived writing to a broken pipe", str(proc.returncode))
proc.send_signal(signal.SIGTERM)
c.expect(proc.wait(timeout=10) == 0, "and exits cleanly on SIGTERM", str(proc.returncode))
proc.stdout.close()

# Terminating signals: the socket file is removed, the exit is clean.
tmp = tempfile.mkdtemp(prefix="svedbg-env.")
for sig in (signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
    path = os.path.join(tmp, "gdb.sock")
    proc = subprocess.Popen([SVEDBG, "serve", "--sim", "--listen", "unix:" + path], stdout=subprocess.PIPE,
                            text=True)
    proc.stdout.readline()
    proc.send_signal(sig)
    rc = proc.wait(timeout=10)
    proc.stdout.close()
    c.expect(rc == 0, f"{sig.name}: clean exit", str(rc))
    c.expect(not os.path.exists(path), f"{sig.name}: the socket file is removed")
    if os.path.exists(path):
        os.unlink(path)

# A second daemon probing the first's live socket is refused, and the first
# logs the probe as a connection without a packet, not as a gdb client.
path = os.path.join(tmp, "probe.sock")
with LiveSvedbg(listen="unix:" + path) as first:
    p = subprocess.run([SVEDBG, "serve", "--sim", "--listen", "unix:" + path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    c.expect(p.returncode == 1 and "another daemon is serving it" in p.stderr, "the second daemon is refused",
             p.stderr)
    c.expect(first.wait_log(r"connection from unix closed without a packet; the guest was not stopped"),
             "the probe is logged as a connection without a packet", first.log())
    log = first.log()
    c.expect("guest resumed" not in log and "client unix connected" not in log,
             "the probe is not a gdb client: no guest stopped or resumed", log)
os.rmdir(tmp)

# A connect storm against a busy daemon: the refusals are rate limited.
with LiveSvedbg() as stub:
    holder = connect(stub)
    holder.sendall(raw_packet("qSupported"))
    read_packets(holder, 1)
    for _ in range(300):
        s = connect(stub)
        s.close()
    c.expect(wait_until(lambda: open_fds(stub.proc.pid) < 30, 30), "the refused connections are closed")
    holder.close()
    c.expect(stub.wait_log(r"dropped; guest resumed"), "the holder's drop is handled", stub.log())
log = stub.stderr
refusals = len(re.findall(r"^svedbg: refusing ", log, re.M))
c.expect(refusals <= 10, "at most a burst of refusal lines is printed", f"{refusals} lines")
c.expect_re(r"^svedbg: \.\.\. \d+ similar lines left out, the last: refusing ", log,
            "a summary says how many refusal lines were left out")
c.done()
