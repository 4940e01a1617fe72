#!/usr/bin/env python3
"""Non-stop mode with gdb-multiarch: `interrupt` thread 2 while threads 1, 3
and 4 go on counting in x0; read thread 2; continue it.

gdb is driven through a pipe, one command at a time, so that its event loop
runs between commands and takes in the stub's %Stop notifications (a -batch
-ex list runs every command before gdb looks at the connection again)."""
import subprocess
import time

from harness import *

# b 0x40000000 at the end of the fixture's NOPs, in place of `b .`: each
# vCPU then loops over the NOPs and its x0 counts for as long as it runs.
LOOP = "set {unsigned int}0x40000ffc = 0x17fffc01"


class Gdb:
    """gdb-multiarch reading commands from a pipe (bounded waits)."""

    def __init__(self):
        self.p = subprocess.Popen([GDB, "-nx", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)

    def send(self, *commands, pause=0.0):
        for c in commands:
            self.p.stdin.write(c + "\n")
            self.p.stdin.flush()
            time.sleep(0.2)
        time.sleep(pause)

    def finish(self, timeout=60):
        try:
            out, _ = self.p.communicate("quit\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
            out += "\n[gdb did not quit in time]"
        return out


c = Checker("e2e non-stop")
with Svedbg() as stub:
    g = Gdb()
    g.send("set pagination off", "set confirm off", "set width 0", "set non-stop on")
    g.send(f"target remote {stub.target()}", pause=1.0)
    g.send(LOOP, "info threads", "continue -a &", pause=1.0)
    # Stop thread 2 alone; the others keep running.
    g.send("thread 2", "interrupt", pause=1.0)
    g.send("echo threads_after_interrupt:\\n", "info threads")
    g.send("echo x0_2a:\\n", "p/x $x0", "echo vg_2:\\n", "p $vg", "echo pc_2:\\n", "p/x $pc")
    # Thread 1 counts while thread 2 is stopped: stop it, read, let it go, twice.
    for tag in ("x0_1a", "x0_1b"):
        g.send("thread 1", "interrupt", pause=1.0)
        g.send(f"echo {tag}:\\n", "p/x $x0", "continue &", pause=1.0)
    g.send("thread 3", "interrupt", pause=1.0)
    g.send("echo x0_3a:\\n", "p/x $x0", "continue &", pause=1.0)
    g.send("thread 3", "interrupt", pause=1.0)
    g.send("echo x0_3b:\\n", "p/x $x0", "continue &")
    # A running thread's registers are not served.
    g.send("thread 4", "p/x $x0")
    # Thread 2 did not move meanwhile; then it continues, and counts.
    g.send("thread 2", "echo x0_2b:\\n", "p/x $x0", "continue &", pause=1.0)
    g.send("thread 2", "interrupt", pause=1.0)
    g.send("echo x0_2c:\\n", "p/x $x0")
    g.send("interrupt -a", pause=1.5)
    g.send("echo threads_all_stopped:\\n", "info threads", "detach", pause=0.5)
    out = g.finish()

    def value(name):
        # As harness.value_of, with gdb's prompts (it reads a pipe) in between.
        m = re.search(re.escape(name) + r":\n(?:\(gdb\) )*\$\d+ = (.*)$", out, re.M)
        return m.group(1) if m else None

    def num(name):
        v = value(name)
        try:
            return int(v, 16)
        except (TypeError, ValueError):
            return None

    c.expect("remote does not support non-stop" not in out, "gdb accepts the stub's non-stop mode", out)
    c.expect_re(r"Thread 2 .*stopped", out, "interrupt stops thread 2 (a stop notification)")
    after = out.split("threads_after_interrupt:", 1)[-1]
    c.expect_re(r"\n\s+1\s+Thread 1 .*\(running\)", after, "thread 1 is still running after thread 2 stopped")
    c.expect_re(r"\n\*\s+2\s+Thread 2 .*0x[0-9a-f]+ in", after, "thread 2 is stopped, with a frame")
    c.expect_re(r"\n\s+3\s+Thread 3 .*\(running\)", after, "thread 3 is still running")
    c.expect_re(r"\n\s+4\s+Thread 4 .*\(running\)", after, "thread 4 is still running")
    x2a, x2b, x2c = num("x0_2a"), num("x0_2b"), num("x0_2c")
    x1a, x1b, x3a, x3b = num("x0_1a"), num("x0_1b"), num("x0_3a"), num("x0_3b")
    c.expect(x2a is not None and x2a > 0x1000, "thread 2's x0 is read while it is stopped (and it had counted)",
             f"x0_2a = {value('x0_2a')}\n{out}")
    c.expect(value("vg_2") == "8", "thread 2's vg is its own VL (512 bits)", f"got {value('vg_2')}")
    c.expect(x1a is not None and x1b is not None and x1b > x1a,
             "thread 1's x0 keeps growing while thread 2 is stopped", f"x0_1a={x1a} x0_1b={x1b}")
    c.expect(x3a is not None and x3b is not None and x3b > x3a,
             "thread 3's x0 keeps growing while thread 2 is stopped", f"x0_3a={x3a} x0_3b={x3b}")
    c.expect(x2b == x2a, "thread 2's x0 did not change while it was stopped", f"x0_2a={x2a} x0_2b={x2b}")
    c.expect(x2c is not None and x2a is not None and x2c > x2a, "continued, thread 2 counts again",
             f"x0_2a={x2a} x0_2c={x2c}")
    c.expect_in("Selected thread is running.", out, "gdb refuses to read a running thread")
    every = out.split("threads_all_stopped:", 1)[-1]
    c.expect("(running)" not in every.split("Detaching", 1)[0], "interrupt -a stops every thread", every)
    c.expect_re(r"Detaching from program|detached", out, "detach")
    stub.wait_clients_done(1)
    c.expect(stub.alive(), "the daemon survives the non-stop session", stub.stderr)
c.done()
