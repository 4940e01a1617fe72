#!/usr/bin/env python3
"""Real lldb (Debian's lldb 14) against the daemon, in the mode docs/clients.md
recommends for it: `--tdesc-vl effective`.

Checks what lldb shows per thread (= vCPU): $vg, general registers, memory,
a single step, `monitor sim set-vl` seen at the next stop, and that lldb gets
each thread's `vg` from qThreadStopInfo. Z/P/FFR: lldb 14 shows them only
because the target description gives them lldb's `encoding="vector"`
attribute (docs/clients.md); the fixture values are checked per thread.
"""
import os
import re
import shutil
import subprocess
import tempfile

from harness import *
from lldb_client import read_packets

LLDB = os.environ.get("LLDB", "lldb")


def run_lldb(stub, commands, log, timeout=120):
    """lldb in batch mode; the commands run from a file that does not stop on errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lldb", delete=False) as f:
        f.write("\n".join(commands) + "\n")
        script = f.name
    try:
        args = [LLDB, "--no-lldbinit", "--batch",
                "-o", f"log enable -f {log} gdb-remote packets",
                "-o", f"gdb-remote {stub.target()}",
                "-o", f"command source -e false {script}"]
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        return p.stdout
    finally:
        os.unlink(script)


def reg(block, name):
    """The value lldb's `register read` printed for `name` in this block."""
    m = re.search(rf"^\s*{re.escape(name)}\s+= (.*)$", block, re.M)
    return m.group(1).strip() if m else None


def lldb_bytes(values):
    return "{" + " ".join(f"0x{v:02x}" for v in values) + "}"


c = Checker("e2e lldb")
if shutil.which(LLDB) is None:
    print(f"e2e lldb: {LLDB} not found")
    raise SystemExit(1)

with Svedbg("--tdesc-vl", "effective") as stub, tempfile.TemporaryDirectory() as tmp:
    log = os.path.join(tmp, "packets.log")
    cmds = ["thread list"]
    for t in range(1, 5):
        cmds += [f"thread select {t}", "register read vg x7 sp pc cpsr z5 p3 ffr",
                 "memory read -s1 -c4 0x40001000"]
    # vCPU 0 switches to VL 256; lldb learns it from the stop reply of a step.
    cmds += ["thread select 1", "process plugin packet monitor sim set-vl 0 256",
             "thread step-inst", "register read vg pc x0 z5 p3 ffr"]
    out = run_lldb(stub, cmds, log)
    pairs = read_packets(log)

    c.expect_re(r"^Process 1 stopped$", out, "lldb connects without an explicit target arch")
    for t in range(1, 5):
        c.expect_re(rf"^[* ] thread #{t}: tid = 0x000{t}, 0x0000000040000000", out,
                    f"thread list shows thread {t} (vCPU {t - 1})")

    xml = "".join(r[1:] for s, r in pairs if s.startswith("qXfer:features:read:target.xml"))
    lldb_vectors = 'encoding="vector"' in xml
    c.expect(lldb_vectors, "Z/P/FFR carry lldb's encoding=\"vector\" (else lldb 14 cannot show them)", xml[:400])
    c.expect("<architecture>aarch64</architecture>" in xml, "lldb read target.xml", xml[:200])

    # Every thread's stop info comes with its vg (lldb sizes SVE registers from it).
    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        if t == 1:
            continue
        replies = [r for s, r in pairs if s == f"qThreadStopInfo{t:x}"]
        want = f"T00thread:{t:x};"
        vg = (bits // 64).to_bytes(8, "little").hex()
        c.expect(bool(replies) and replies[0].startswith(want) and f"55:{vg};" in replies[0],
                 f"qThreadStopInfo{t} answers T00 with thread {t}'s vg", f"got {replies}")

    # One block per `register read vg ...` (4 threads, then after the step).
    blocks = out.split("(lldb) register read vg")[1:]
    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        cpu, eff = t - 1, bits // 8
        b = blocks[t - 1] if len(blocks) > t - 1 else ""
        c.expect(reg(b, "vg") == f"0x{bits // 64:016x}", f"thread {t}: vg == {bits // 64}",
                 f"got {reg(b, 'vg')}")
        c.expect(reg(b, "x7") == f"0x{0x1000 * cpu + 7:016x}", f"thread {t}: x7", f"got {reg(b, 'x7')}")
        c.expect(reg(b, "sp") == f"0x{0x80000000 + 0x1000 * cpu:016x}", f"thread {t}: sp",
                 f"got {reg(b, 'sp')}")
        c.expect(reg(b, "pc") == "0x0000000040000000", f"thread {t}: pc", f"got {reg(b, 'pc')}")
        c.expect(reg(b, "cpsr") == "0x000003c5", f"thread {t}: cpsr", f"got {reg(b, 'cpsr')}")
        mem = " ".join(f"{(0x1000 + i) % 251:02x}" for i in range(4))
        c.expect_re(rf"^0x40001000: {mem}\b", b, f"thread {t}: memory at 0x40001000 is o mod 251")
        if lldb_vectors:
            # Sized by the thread's own VL: exactly L bytes of Z, L/8 of P/FFR.
            c.expect(reg(b, "z5") == lldb_bytes(z_bytes(cpu, 5, eff, eff)), f"thread {t}: z5 follows the fixture",
                     f"got {reg(b, 'z5')}")
            c.expect(reg(b, "p3") == lldb_bytes(p_bytes(cpu, 3, eff, eff // 8)),
                     f"thread {t}: p3 follows the fixture", f"got {reg(b, 'p3')}")
            c.expect(reg(b, "ffr") == lldb_bytes(ffr_bytes(eff, eff // 8)), f"thread {t}: ffr",
                     f"got {reg(b, 'ffr')}")

    c.expect(len(blocks) == 5, "lldb ran every register read", out)
    c.expect_re(r"stop reason = instruction step into", out, "thread step-inst stops with a step")
    b = blocks[4] if len(blocks) > 4 else ""
    c.expect(reg(b, "vg") == f"0x{4:016x}", "after set-vl 0 256 and a step, thread 1 vg == 4",
             f"got {reg(b, 'vg')}")
    c.expect(reg(b, "pc") == "0x0000000040000004", "the step executed one NOP (pc += 4)", f"got {reg(b, 'pc')}")
    c.expect(reg(b, "x0") == f"0x{1:016x}", "the step executed one NOP (x0 += 1)", f"got {reg(b, 'x0')}")
    if lldb_vectors:
        c.expect(reg(b, "z5") == lldb_bytes(z_bytes(0, 5, 32, 32)),
                 "after the VL change lldb resizes thread 1's z5 to 32 bytes", f"got {reg(b, 'z5')}")
        c.expect(reg(b, "p3") == lldb_bytes(p_bytes(0, 3, 32, 4)), "... and p3 to 4 bytes",
                 f"got {reg(b, 'p3')}")
    errors = [(s, r) for s, r in pairs if re.fullmatch(r"E[0-9a-f]{2}", r) and s[0] in "pPgHqT"]
    c.expect(not errors, "no register/thread packet was refused", f"got {errors}")
c.done()
