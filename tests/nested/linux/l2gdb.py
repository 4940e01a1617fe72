"""gdb-side helpers of the Linux L2 nested cases (tests/nested/cases/linux_*.gdb).

Sourced by a case's gdb script (`source` through RUN_GUEST_SRC); needs
run-guest's environment for RUN_GUEST_LINUX_L2 (RUN_GUEST_VMLINUX,
RUN_GUEST_GDB_INDEX_CACHE, RUN_GUEST_CONSOLE_LOG, RUN_GUEST_PORT_1234).
Every check prints one line "check: WHAT: ok" or "check: WHAT: FAILED ..."
(run-case fails on the word FAILED).
"""
import os
import re
import time

import gdb


def env(name):
    value = os.environ.get(name)
    if not value:
        raise gdb.GdbError(f"l2gdb: {name} is not set (run through run-guest with RUN_GUEST_LINUX_L2; "
                           "the vmlinux comes from tests/nested/fetch-vmlinux)")
    return value


def check(what, ok, detail=""):
    print(f"check: {what}: {'ok' if ok else 'FAILED'}{(' ' + detail) if detail and not ok else ''}")
    return ok


def load_vmlinux():
    """`file vmlinux` (before connecting: loading takes long, svedbg would see an idle client)."""
    t0 = time.monotonic()
    gdb.execute("set index-cache directory " + env("RUN_GUEST_GDB_INDEX_CACHE"))
    gdb.execute("set index-cache enabled on")
    gdb.execute("file " + env("RUN_GUEST_VMLINUX"))
    print(f"l2gdb: vmlinux loaded in {time.monotonic() - t0:.1f} s")


def connect():
    gdb.execute("set remotetimeout 60")
    gdb.execute("target remote 127.0.0.1:" + env("RUN_GUEST_PORT_1234"))


def reconnect(pause=0.5):
    """Detach (the guest runs on), wait, attach again: a new stop at a random point."""
    gdb.execute("detach")
    time.sleep(pause)
    connect()


def vm_lines():
    """The VM script's lines so far (without the "vm: " prefix)."""
    with open(env("RUN_GUEST_CONSOLE_LOG"), errors="replace") as f:
        return [line.rstrip("\r\n")[4:] for line in f if line.startswith("vm: ")]


_PROG_RE = re.compile(r"^l2: svespin: pid (\d+) vl (\d+) state (0x[0-9a-f]+) mode (\w+)$")


def programs():
    """[{pid, vl, state, mode}] of the svespin programs, as the L2 /init printed them."""
    out = []
    for line in vm_lines():
        m = _PROG_RE.match(line)
        if m:
            out.append({"pid": int(m.group(1)), "vl": int(m.group(2)), "state": int(m.group(3), 16),
                        "mode": m.group(4)})
    return out


def threads():
    return sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)


def reg(name):
    return int(gdb.parse_and_eval("$" + name))


def current_pid(cpu):
    """pid of the task the kernel runs on CPU cpu (runqueues.curr, per-CPU)."""
    rq = gdb.parse_and_eval(f"*(struct rq *)((unsigned long)&runqueues + __per_cpu_offset[{cpu}])")
    return int(rq["curr"]["pid"])


def z_expected(pid, vl, n, lane):
    return (pid << 32) | (vl << 12) | (n << 6) | lane


def p_expected_bits(pid, vl, n):
    """Number of leading active .b elements of p<n> (n 16: FFR), as svespin sets them."""
    vl_bytes = vl // 8
    return ((pid * 3) % vl_bytes + 1) if n == 16 else ((pid + 5 * n) % vl_bytes + 1)


def pred_bytes(k, vl):
    """Predicate register bytes (one bit per byte element) with the first k elements active."""
    nbits = vl // 8
    value = (1 << k) - 1 if k < nbits else (1 << nbits) - 1
    return [(value >> (8 * i)) & 0xff for i in range(nbits // 8)]


def read_z(n, lanes):
    v = gdb.parse_and_eval(f"$z{n}")["d"]["u"]
    return [int(v[i]) for i in range(lanes)]


def read_p(name, nbytes):
    v = gdb.parse_and_eval("$" + name)
    return [int(v[i]) for i in range(nbytes)]
