# Non-stop mode on nested KVM (issue 19), shared by the cases
# nonstop_inprocess and nonstop_attach: run from the case's gdb script
# (RUN_GUEST_NO_CONNECT=1; this file's path in NONSTOP_DRIVER).
#
# gdb -batch runs a script's commands without taking in the stub's %Stop
# notifications between them, so this drives a second gdb-multiarch
# through a pipe, one command at a time, waiting for what each one prints
# (as tests/e2e/test_nonstop.py does on the sim). The guest (vl512 on 2
# vCPUs) spins in `add x20, x20, #1` on every vCPU. In non-stop mode:
# vCPU 0 (thread 1) is stopped (at connect) and read (x20, pc, vg,
# z0, x21); vCPU 1 (thread 2) is stopped, read and continued twice while
# vCPU 0 stays stopped: its x20 must grow, vCPU 0's must not; then vCPU 0
# continues, is stopped again and must have counted. Prints
# `nonstop: CHECK: ok` per check, or `nonstop: CHECK: FAILED ...`.
# NONSTOP_CASE=vmm_exit: vmm_exit() below instead; NONSTOP_HBREAK=1 adds
# hbreak() (attach: breakpoints reach running vCPUs at once).
import os
import re
import subprocess
import threading
import time

port = os.environ["RUN_GUEST_PORT_1234"]


class Gdb:
    """gdb-multiarch reading commands from a pipe; output gathered by a thread."""

    def __init__(self):
        self.p = subprocess.Popen(["gdb-multiarch", "-nx", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.out = ""
        self.lock = threading.Lock()
        self.n = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:  # until gdb exits (EOF)
            with self.lock:
                self.out += line

    def text(self):
        with self.lock:
            return self.out

    def wait_for(self, pattern, start, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.text()[start:], re.M)
            if m:
                return m
            time.sleep(0.1)
        return None

    def run(self, *commands, timeout=90):
        """Sends the commands, then waits until gdb has run them all (an echoed marker)."""
        self.n += 1
        mark = f"@@done{self.n}@@"
        start = len(self.text())
        for c in commands + (f"echo {mark}\\n",):
            self.p.stdin.write(c + "\n")
            self.p.stdin.flush()
        if not self.wait_for(re.escape(mark), start, timeout):
            return None
        return self.text()[start:].split(mark, 1)[0]

    def stop(self, thread):
        """`interrupt` of one thread; waits for its stop notification."""
        start = len(self.text())
        self.run(f"thread {thread}", "interrupt")
        return self.wait_for(rf"Thread {thread} .*stopped", start) is not None

    def value(self, expr):
        out = self.run(f"p/x {expr}") or ""
        m = re.search(r"\$\d+ = (0x[0-9a-f]+|\d+)\s*$", out, re.M)
        return int(m.group(1), 0) if m else None

    def finish(self):
        # Not communicate(): the reader thread owns gdb's stdout.
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # gdb is already gone
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.reader.join(timeout=10)


failures = 0


def check(name, ok, detail=""):
    global failures
    failures += 0 if ok else 1
    print(f"nonstop: {name}: {'ok' if ok else 'FAILED'} {detail}".rstrip(), flush=True)


def main(g):
    g.run("set non-stop on")
    connect = g.run(f"target remote 127.0.0.1:{port}", timeout=120) or ""
    check("connect in non-stop mode", "does not support non-stop" not in connect and "Remote debugging" in connect,
          connect.strip().replace("\n", " | "))
    if "Remote debugging" not in connect or "does not support non-stop" in connect:
        return  # nothing else can work
    threads = g.run("info threads") or ""
    print(threads, flush=True)
    # svedbg keeps the connect stop's vCPU stopped and lets the other run; make
    # that vCPU 0 (thread 1) whichever it was.
    stopped_at = [t for t in (1, 2) if re.search(rf"^[* ]\s*{t}\s+Thread {t} .* in ", threads, re.M)]
    running_at = [t for t in (1, 2) if re.search(rf"^[* ]\s*{t}\s+Thread {t} .*\(running\)", threads, re.M)]
    check("one vCPU stopped at connect, the other running", len(stopped_at) == 1 and len(running_at) == 1,
          f"stopped {stopped_at}, running {running_at}")
    if stopped_at == [2]:
        g.stop(1)
        g.run("thread 2", "continue &")
        print(g.run("info threads") or "", flush=True)

    g.run("thread 1")
    x20_0a, pc_0 = g.value("$x20"), g.value("$pc")
    vg_0, z0_0, x21_0 = g.value("$vg"), g.value("$z0.b.u[0]"), g.value("$x21")
    print(f"nonstop: vCPU 0: x20={x20_0a} pc={pc_0} vg={vg_0} z0.b[0]={z0_0} x21={x21_0}", flush=True)
    check("vCPU 0 registers read while vCPU 1 runs", x20_0a is not None and pc_0 is not None)
    check("vCPU 0 SVE registers", vg_0 == 8 and z0_0 == 0 and x21_0 == 0x5e00, f"vg={vg_0} z0.b[0]={z0_0}")

    counts = []
    for _ in range(2):
        stopped = g.stop(2)
        counts.append(g.value("$x20") if stopped else None)
        if len(counts) == 1:
            vg_1, z0_1 = g.value("$vg"), g.value("$z0.b.u[0]")
            check("vCPU 1 stopped and read", stopped and vg_1 == 8 and z0_1 == 0x40, f"vg={vg_1} z0.b[0]={z0_1}")
        g.run("continue &")
        time.sleep(2)
    print(f"nonstop: vCPU 1 x20 while vCPU 0 is stopped: {counts}", flush=True)
    check("vCPU 1 counts while vCPU 0 is stopped", None not in counts and counts[1] > counts[0])

    g.run("thread 2")
    running = g.run("p/x $x20") or ""
    check("a running vCPU's registers are refused", "Selected thread is running" in running, running.strip())

    g.run("thread 1")
    x20_0b = g.value("$x20")
    check("vCPU 0 did not run while stopped", x20_0b is not None and x20_0b == x20_0a, f"{x20_0a} then {x20_0b}")
    g.run("continue &")
    time.sleep(2)
    stopped = g.stop(1)
    x20_0c = g.value("$x20") if stopped else None
    check("vCPU 0 counts again once continued", x20_0c is not None and x20_0a is not None and x20_0c > x20_0a,
          f"{x20_0a} then {x20_0c}")

    if os.environ.get("NONSTOP_HBREAK") == "1":
        hbreak(g, pc_0)

    start = len(g.text())
    g.run("interrupt -a")
    g.wait_for(r"Thread 2 .*stopped", start)
    g.run("info threads")
    detach = g.run("detach") or ""
    check("detach", re.search(r"Detaching from program|detached", detach) is not None, detach.strip())


def hbreak(g, addr):
    """NONSTOP_HBREAK=1: a hardware breakpoint in the spin loop, inserted
    while vCPU 1 runs (vCPU 0 stopped), stops vCPU 1 there at once: the
    backend changes a running vCPU's debug registers (without it, vCPU 1
    would get them only when next resumed, and never stop)."""
    start = len(g.text())
    g.run(f"hbreak *{addr:#x}")
    hit = g.wait_for(r"Thread 2 .*hit (Hardware assisted )?[Bb]reakpoint", start, timeout=60)
    g.run("thread 2")
    pc = g.value("$pc") if hit else None
    check("a hardware breakpoint set while vCPU 1 runs stops it at once", hit is not None and pc == addr,
          f"pc={pc} breakpoint={addr}" + ("" if hit else " | " + g.text()[start:].replace("\n", " | ")))
    g.run("delete", "thread 2", "continue &")
    time.sleep(2)
    running = g.run("info threads") or ""
    check("vCPU 1 runs on once the breakpoint is gone", re.search(r"^[* ]\s*2\s+Thread 2 .*\(running\)", running, re.M)
          is not None, running.strip())


def vmm_exit(g):
    """NONSTOP_CASE=vmm_exit: the VM's watcher kills the VMM while vCPU 0's
    thread is stopped and vCPU 1's runs; gdb must hear the exit (a %Stop
    notification with an X reply) and svedbg go on serving."""
    connect = g.run("set non-stop on", f"target remote 127.0.0.1:{port}", timeout=120) or ""
    check("connect in non-stop mode", "does not support non-stop" not in connect and "Remote debugging" in connect,
          connect.strip().replace("\n", " | "))
    x20 = g.value("$x20")
    check("vCPU 0 read before the VMM dies", x20 is not None, f"x20={x20}")
    start = len(g.text())
    m = g.wait_for(r"terminated with signal SIGKILL|Inferior 1 \(.*\) (killed|exited|terminated)", start, timeout=120)
    check("gdb hears the VMM's exit while vCPU 0 is stopped", m is not None, m.group(0) if m else g.text()[start:])
    threads = g.run("info threads") or ""
    check("no threads left", "No threads." in threads, threads.strip())
    g.run("detach")
    time.sleep(20)  # the VM-side watcher asks svedbg with a new client meanwhile (its lines follow gdb's)


gdb_ = Gdb()
gdb_.run("set pagination off", "set confirm off", "set width 0", "set remotetimeout 30")
try:
    vmm_exit(gdb_) if os.environ.get("NONSTOP_CASE") == "vmm_exit" else main(gdb_)
finally:
    gdb_.finish()
print(f"nonstop: {'all ok' if failures == 0 else f'{failures} FAILED'}", flush=True)
