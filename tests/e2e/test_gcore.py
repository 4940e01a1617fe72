#!/usr/bin/env python3
"""A core that svedbg did not write: gdb's own `gcore` of an arm64 SVE process.

An SVE program (tests/e2e/sve_gcore.S, built with the aarch64 cross
compiler) runs under qemu-aarch64 with its gdbstub; gdb-multiarch stops it
at `ready`, prints every SVE register, FFR, FPSR, FPCR and $vg, and writes a
core with `gcore`. Then svedbg reads that core: `svedbg serve --core` must
show gdb the same values, and `svedbg dump --core --format json` must hold
the same bytes. Done at VL 512 (gdb 13 writes FPSR/FPCR right after FFR,
not where the kernel's layout puts them) and at VL 2048 (the two layouts
agree but for the padding at the end, which gdb leaves out).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import *

HERE = os.path.dirname(os.path.abspath(__file__))
REGS = [f"z{n}.b.u" for n in range(32)] + [f"p{n}" for n in range(16)] + ["ffr", "fpsr", "fpcr", "vg", "x19", "pc"]
c = Checker("e2e gcore")

missing = [t for t in ("qemu-aarch64", "aarch64-linux-gnu-gcc") if not shutil.which(t)]
if missing:
    # tools/install-deps installs both; only a machine without them skips.
    print(f"SKIP: {', '.join(missing)} not installed (tools/install-deps)")
    raise SystemExit(77)


def prints():
    cmds = []
    for r in REGS:
        cmds += [f"echo R.{r}:\\n", f"p/x ${r}"]
    return cmds


def parse(text):
    """gdb's `p/x` of a register: an int, or a list of ints for an array
    (with `<repeats N times>` expanded)."""
    if text is None:
        return None
    text = text.strip()
    if not text.startswith("{"):
        return int(text, 16) if text.startswith("0x") else text
    out = []
    for item in text.strip("{}").split(","):
        m = re.match(r"\s*(0x[0-9a-f]+|\d+)(?:\s+<repeats (\d+) times>)?\s*$", item)
        if not m:
            return text
        out += [int(m.group(1), 0)] * int(m.group(2) or 1)
    return out


def vals(out, vl_bytes):
    """Every register in REGS; predicates cut to their architectural size
    (VL/8 bytes): qemu 7.2's gdbstub sends P and FFR at the Z size, the
    bytes past VL/8 being whatever its buffer held."""
    v = {r: parse(value_of(out, f"R.{r}")) for r in REGS}
    for r in [f"p{n}" for n in range(16)] + ["ffr"]:
        if isinstance(v[r], list):
            v[r] = v[r][: vl_bytes // 8]
    return v


def differ(a, b):
    return {r: (str(a[r])[:80], str(b[r])[:80]) for r in REGS if a[r] != b[r]}


with tempfile.TemporaryDirectory() as tmp:
    prog = os.path.join(tmp, "sve_gcore")
    subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-nostdlib", "-march=armv8.2-a+sve", "-o", prog,
                    os.path.join(HERE, "sve_gcore.S")], check=True)
    for vq in (4, 16):
        core = os.path.join(tmp, f"gcore-{vq}")
        port = free_port()
        cpu = f"max,sve-max-vq={vq},sve-default-vector-length={vq * 16}"
        qemu = subprocess.Popen(["qemu-aarch64", "-cpu", cpu, "-g", str(port), prog],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(port)
            live = run_gdb(None, [f"file {prog}", f"target remote 127.0.0.1:{port}", "break ready", "continue"]
                           + prints() + [f"gcore {core}", "kill"], connect=False)
        finally:
            qemu.kill()
            qemu.wait()
        vl = vq * 16
        want = vals(live, vl)
        c.expect(want["vg"] == vq * 2, f"VL {vq * 128}: qemu's $vg", want["vg"])
        c.expect(want["fpcr"] == 0xC00000 and want["fpsr"] == 0x11, f"VL {vq * 128}: fpsr/fpcr set live",
                 (want["fpsr"], want["fpcr"]))
        c.expect(want["z5.b.u"] == [(5 + 6 * b) % 256 for b in range(vl)], f"VL {vq * 128}: z5 live (index #5, #6)",
                 str(want["z5.b.u"])[:200])
        c.expect(os.path.exists(core), f"VL {vq * 128}: gdb wrote a core")

        # gdb itself reads its core back (the reference for the layout).
        own = vals(run_gdb(None, [f"core-file {core}"] + prints(), connect=False), vl)
        c.expect(own == want, f"VL {vq * 128}: gdb reads its own core back as live", differ(own, want))

        # svedbg serving the core: the same values in gdb.
        with CoreStub(core) as stub:
            got = vals(run_gdb(stub, prints()), vl)
        c.expect(got == want, f"VL {vq * 128}: svedbg serve --core of gdb's gcore shows every register as live",
                 differ(got, want))

        # svedbg's JSON dump of the core: the same bytes.
        p = subprocess.run([SVEDBG, "dump", "--core", core, "--format", "json", "-o", "-"], capture_output=True,
                           text=True)
        c.expect(p.returncode == 0, f"VL {vq * 128}: svedbg dump --core of gdb's gcore", p.stderr)
        if p.returncode == 0:
            v = json.loads(p.stdout)["vcpus"][0]
            z5 = bytes.fromhex(v["z"][5])
            c.expect(v["effective_vl"] == vq * 128, f"VL {vq * 128}: JSON effective_vl", v["effective_vl"])
            c.expect(int(v["fpsr"], 16) == 0x11 and int(v["fpcr"], 16) == 0xc00000, f"VL {vq * 128}: JSON fpsr/fpcr",
                     (v["fpsr"], v["fpcr"]))
            c.expect(list(z5) == want["z5.b.u"],
                     f"VL {vq * 128}: JSON z5 = index #5, #6", v["z"][5][:64])
c.done()
