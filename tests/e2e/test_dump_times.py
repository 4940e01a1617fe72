#!/usr/bin/env python3
"""`svedbg dump --times`: one line on stderr with each phase of the dump
(docs/scale.md: how long `dump --pid` keeps the VMM stopped); without the
flag, nothing. The simulated guest: open and close are the sim's set-up and
teardown, read covers its 4 vCPUs."""
import os
import re
import subprocess
import tempfile

from harness import *

LINE = re.compile(r"^svedbg dump: times \(ms\): open (\d+\.\d{3}), stop (\d+\.\d{3}), "
                  r"read (\d+\.\d{3}) \((\d+\.\d{3}) per vCPU\), write (\d+\.\d{3}), close (\d+\.\d{3}); "
                  r"total (\d+\.\d{3})$", re.M)

c = Checker("e2e dump --times")
with tempfile.TemporaryDirectory() as tmp:
    core = os.path.join(tmp, "d.elf")
    p = subprocess.run([SVEDBG, "dump", "--sim", "--format", "elf", "--memory", "--times", "-o", core],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    c.expect(p.returncode == 0, f"dump --times exits 0 (stderr: {p.stderr!r})")
    m = LINE.search(p.stderr)
    c.expect(m is not None, f"the times line is printed: {p.stderr!r}")
    if m:
        f = [float(x) for x in m.groups()]
        open_, stop, read, per, write, close, total = f
        c.expect(abs(per * 4 - read) < 0.01, f"read per vCPU is read / 4 ({per} * 4 vs {read})")
        c.expect(write > 0, f"writing the core took time ({write} ms)")
        c.expect(abs(open_ + stop + read + write + close - total) < 0.01, "total is the sum of the phases")
    c.expect(os.path.getsize(core) > 1 << 20, "the core with 1 MiB of RAM is written")
    p = subprocess.run([SVEDBG, "dump", "--sim", "--format", "json", "-o", os.path.join(tmp, "d.json")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    c.expect(p.returncode == 0 and "times" not in p.stderr, f"without --times no line ({p.stderr!r})")
c.done()
