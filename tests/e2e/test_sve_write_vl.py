#!/usr/bin/env python3
"""SVE writes are honest (issue 19, part 3), with real gdb-multiarch 13.

Thread 3 is vCPU 2, whose effective VL is 128 bits in the sim's fixture,
under a 2048-bit description. `set $z0.d.u[5] = 0xdeadbeef` (above the VL)
is refused and gdb prints svedbg's reason (an "E.text" reply); the value
stays as it was. `set $z0.d.u[0] = ...` (gdb sends the whole register, zeros
above the VL) is accepted and reads back. After `monitor sim set-vl 2 512`
and a step, lane 5 is below the VL and the same write goes through.
"""
from harness import *

c = Checker("e2e sve write above VL")
with Svedbg() as stub:
    out = run_gdb(stub, ["thread 3",
                         "set $z0.d.u[5] = 0xdeadbeef",
                         "echo after5:\\n", "p/x $z0.d.u[5]",
                         "set $z0.d.u[0] = 0xdeadbeef",
                         "echo after0:\\n", "p/x $z0.d.u[0]",
                         "set $p3[2] = 1",
                         "set $p3[1] = 0x80",
                         "echo p3:\\n", "p/x $p3[1]",
                         "monitor sim set-vl 2 512", "stepi",
                         "set $z0.d.u[5] = 0xfeedf00d",
                         "echo big5:\\n", "p/x $z0.d.u[5]"], check=False)
    c.expect_re(r'Could not write register "z0"; remote failure reply '
                r"'E\.vCPU 2: z0 not written: its effective VL is 128 bits", out,
                "gdb shows the refusal naming the vCPU, the register and its effective VL")
    c.expect(value_of(out, "after5") == "0x0", "the refused value was not stored", f"got {value_of(out, 'after5')}")
    c.expect(value_of(out, "after0") == "0xdeadbeef", "a lane below the VL is written and read back",
             f"got {value_of(out, 'after0')}\n{out}")
    c.expect_re(r'Could not write register "p3"; remote failure reply '
                r"'E\.vCPU 2: p3 not written: its effective VL is 128 bits", out, "a P register likewise")
    c.expect(value_of(out, "p3") == "0x80", "p3 below the VL is written", f"got {value_of(out, 'p3')}")
    c.expect(value_of(out, "big5") == "0xfeedf00d", "at VL 512 lane 5 is writable",
             f"got {value_of(out, 'big5')}\n{out}")
c.done()
