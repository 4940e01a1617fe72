#!/usr/bin/env python3
"""`svedbg serve --vcpus LIST` with real gdb-multiarch: only the listed vCPUs
are threads, in list order, with their own registers and vector lengths.

The simulated guest's fixture (README): vCPU c has xN = 0x1000*c + N and
effective VLs 2048, 512, 128, 256 bits for c = 0..3.
"""
import subprocess

from harness import *

c = Checker("e2e vcpus")
with Svedbg("--vcpus", "1,3") as stub:
    out = run_gdb(stub, ["info threads", "echo T1X0:\\n", "p/x $x0", "echo T1VG:\\n", "p $vg",
                         "thread 2", "echo T2X0:\\n", "p/x $x0", "echo T2VG:\\n", "p $vg", "thread 3", "stepi",
                         "echo T2PC:\\n", "p/x $pc"])
    c.expect_re(r"^\* 1 +Thread 1 ", out, "thread 1 is listed")
    c.expect_re(r"^  2 +Thread 2 ", out, "thread 2 is listed")
    c.expect(re.search(r"^  3 +Thread 3 ", out, re.M) is None, "no third thread", out)
    c.expect_re(r"Invalid thread ID: 3|Unknown thread 3", out, "thread 3 does not exist")
    c.expect(value_of(out, "T1X0") == "0x1000", "thread 1 is vCPU 1", value_of(out, "T1X0"))
    c.expect(value_of(out, "T1VG") == "8", "thread 1 has vCPU 1's VL (512 bits)", value_of(out, "T1VG"))
    c.expect(value_of(out, "T2X0") == "0x3000", "thread 2 is vCPU 3", value_of(out, "T2X0"))
    c.expect(value_of(out, "T2VG") == "4", "thread 2 has vCPU 3's VL (256 bits)", value_of(out, "T2VG"))
    c.expect(value_of(out, "T2PC") == "0x40000004", "stepi on thread 2 steps vCPU 3", value_of(out, "T2PC"))
    c.expect_in("serving vCPUs 1,3 as threads 1-2", stub.banner, "the banner says which vCPUs are served")

for bad, msg in (("1,9", "--vcpus: no vCPU 9: the guest has vCPUs 0-3"), ("1,,2", "is not a vCPU index")):
    p = subprocess.run([SVEDBG, "serve", "--sim", "--vcpus", bad, "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, timeout=30)
    c.expect(p.returncode == 2 and msg in p.stderr, f"--vcpus {bad} is refused with a message", p.stderr)
c.done()
