#!/usr/bin/env python3
"""`svedbg serve --vcpus LIST` with real gdb-multiarch: only the listed vCPUs
are threads, in list order, with their own registers and vector lengths.

The simulated guest's fixture (README): vCPU c has xN = 0x1000*c + N and
effective VLs 2048, 512, 128, 256 bits for c = 0..3.
"""
import json
import os
import subprocess
import tempfile

from harness import *

c = Checker("e2e vcpus")
with Svedbg("--vcpus", "1,3") as stub:
    out = run_gdb(stub, ["info threads", "echo T1X0:\\n", "p/x $x0", "echo T1VG:\\n", "p $vg",
                         "thread 2", "echo T2X0:\\n", "p/x $x0", "echo T2VG:\\n", "p $vg", "thread 3", "stepi",
                         "echo T2PC:\\n", "p/x $pc"])
    # Threads are numbered in list order; their names say which vCPU of the VMM they are.
    c.expect_re(r'^\* 1 +Thread 1 "vCPU 1" \(vCPU 1, VL 512 bits\)', out, "thread 1 is listed as vCPU 1")
    c.expect_re(r'^  2 +Thread 2 "vCPU 3" \(vCPU 3, VL 256 bits\)', out, "thread 2 is listed as vCPU 3")
    c.expect(re.search(r"^  3 +Thread 3 ", out, re.M) is None, "no third thread", out)
    c.expect_re(r"Invalid thread ID: 3|Unknown thread 3", out, "thread 3 does not exist")
    c.expect(value_of(out, "T1X0") == "0x1000", "thread 1 is vCPU 1", value_of(out, "T1X0"))
    c.expect(value_of(out, "T1VG") == "8", "thread 1 has vCPU 1's VL (512 bits)", value_of(out, "T1VG"))
    c.expect(value_of(out, "T2X0") == "0x3000", "thread 2 is vCPU 3", value_of(out, "T2X0"))
    c.expect(value_of(out, "T2VG") == "4", "thread 2 has vCPU 3's VL (256 bits)", value_of(out, "T2VG"))
    c.expect(value_of(out, "T2PC") == "0x40000004", "stepi on thread 2 steps vCPU 3", value_of(out, "T2PC"))
    c.expect_in("serving vCPUs 1,3 as threads 1-2", stub.banner, "the banner says which vCPUs are served")

# Dumps: JSON names each vCPU by the VMM's index; the ELF core's threads are
# numbered as the live stub's (LWP N = thread N), in list order.
with tempfile.TemporaryDirectory() as tmp:
    p = subprocess.run([SVEDBG, "dump", "--sim", "--vcpus", "1,3", "--format", "json", "-o", "-"], capture_output=True,
                       text=True, timeout=60)
    doc = json.loads(p.stdout)
    c.expect([(v["index"], v["core"]["x0"]) for v in doc["vcpus"]] == [(1, "0x1000"), (3, "0x3000")],
             "JSON dump of --vcpus 1,3: index is the VMM's vCPU index", p.stdout[:300])
    core = os.path.join(tmp, "subset.elf")
    subprocess.run([SVEDBG, "dump", "--sim", "--vcpus", "1,3", "--format", "elf", "-o", core], check=True, timeout=60)
    out = run_gdb(None, [f"core-file {core}", "info threads", "thread 2", "echo T2X0:\\n", "p/x $x0"], connect=False)
    c.expect_re(r"^  2 +LWP 2 ", out, "ELF dump of --vcpus 1,3: LWP 2 is thread 2")
    c.expect(value_of(out, "T2X0") == "0x3000", "ELF dump: thread 2 is vCPU 3", out)
    p = subprocess.run([SVEDBG, "dump", "--core", core, "--format", "json", "-o", "-"], capture_output=True, text=True,
                       timeout=60)
    c.expect([v["index"] for v in json.loads(p.stdout)["vcpus"]] == [1, 3],
             "the ELF core keeps the VMM's indexes (its JSON says 1 and 3)", p.stdout[:300] + p.stderr)

for bad, msg in (("1,9", "--vcpus: no vCPU 9: the guest has vCPUs 0-3"), ("1,,2", "is not a vCPU index")):
    p = subprocess.run([SVEDBG, "serve", "--sim", "--vcpus", bad, "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, timeout=30)
    c.expect(p.returncode == 2 and msg in p.stderr, f"--vcpus {bad} is refused with a message", p.stderr)
c.done()
