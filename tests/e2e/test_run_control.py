#!/usr/bin/env python3
"""Stepping, monitor commands, a VL change seen at the next stop, detach and reconnect."""
from harness import *

c = Checker("e2e run control")
with Svedbg() as stub:
    out = run_gdb(stub, [
        "monitor help",
        "monitor vls",
        "thread 2",
        "stepi",
        "echo pc2:\\n", "p/x $pc",
        "echo x0_2:\\n", "p/x $x0",
        "stepi",
        "echo pc2b:\\n", "p/x $pc",
        "thread 1",
        "echo x0_1:\\n", "p/x $x0",
        "echo pc1:\\n", "p/x $pc",
        # The guest (vCPU 0) lowers its VL to 256 bits; gdb sees it at the next stop.
        "monitor sim set-vl 0 256",
        "stepi",
        "echo vg_after:\\n", "p $vg",
        "echo z5_after:\\n", "p/x $z5.b.u",
        "echo zsize_after:\\n", "p sizeof($z5)",
        "info threads",
        "monitor vls",
        "monitor sim set-vl 9 256",
        "monitor no-such-command",
        "detach",
    ])
    c.expect_in("monitor vls", out, "monitor help lists vls")
    c.expect_in("monitor sim set-vl VCPU BITS", out, "monitor help lists the sim command")
    for cpu, bits in enumerate(DEFAULT_EFFECTIVE_BITS):
        c.expect_re(rf"^vCPU {cpu}: enabled VLs .*max 2048 bits; effective VL {bits} bits \(ZCR_EL1\.LEN={bits // 128 - 1}\)$",
                    out, f"monitor vls line for vCPU {cpu}")
    c.expect(value_of(out, "pc2") == "0x40000004", "stepi on thread 2 advances its pc by 4",
             f"got {value_of(out, 'pc2')}")
    c.expect(value_of(out, "x0_2") == hex(0x1000 + 1), "stepi on thread 2 adds 1 to its x0",
             f"got {value_of(out, 'x0_2')}")
    c.expect(value_of(out, "pc2b") == "0x40000008", "a second stepi", f"got {value_of(out, 'pc2b')}")
    c.expect(value_of(out, "x0_1") == "0x0", "thread 1 did not move while thread 2 stepped",
             f"got {value_of(out, 'x0_1')}")
    c.expect(value_of(out, "pc1") == "0x40000000", "thread 1 pc unchanged", f"got {value_of(out, 'pc1')}")
    c.expect_in("vCPU 0: VL 256 bits (ZCR_EL1.LEN=1)", out, "set-vl reports the new VL")
    c.expect(value_of(out, "vg_after") == "4", "vg follows the guest's new VL at the next stop",
             f"got {value_of(out, 'vg_after')}")
    c.expect(value_of(out, "z5_after") == gdb_array(z_bytes(0, 5, 32, 256), hexfmt),
             "bytes above the new effective VL read as zero", f"got {value_of(out, 'z5_after')}")
    c.expect(value_of(out, "zsize_after") == "256",
             "gdb 13 keeps the description size (it does not switch gdbarch on vg)",
             f"got {value_of(out, 'zsize_after')}")
    c.expect_re(r'Thread 1 "vCPU 0" \(vCPU 0, VL 256 bits\)', out, "info threads shows the new VL")
    c.expect_re(r"effective VL 256 bits \(ZCR_EL1\.LEN=1\)", out, "monitor vls shows the new VL")
    c.expect_re(r"error: .*vCPU", out, "set-vl on a missing vCPU is an error naming the vCPU")
    c.expect_re(r"error: unknown monitor command 'no-such-command'", out, "unknown monitor command")
    c.expect_in("[Inferior 1 (Remote target) detached]", out, "detach")

    # The daemon waits for the next client. Detached, the guest ran on: thread
    # 2 from 0x40000008 through the NOPs (x0 += 1 each) to the `b .` loop.
    stub.wait_clients_done(1)
    out2 = run_gdb(stub, [
        "thread 2", "echo pc:\\n", "p/x $pc", "echo x0:\\n", "p/x $x0",
        "thread 1", "echo vg:\\n", "p $vg",
        "detach",
    ])
    c.expect(value_of(out2, "pc") == "0x40000ffc", "reconnect: thread 2 ran on to the guest's loop",
             f"got {value_of(out2, 'pc')}\n{out2}")
    c.expect(value_of(out2, "x0") == hex(0x1000 + 1023), "reconnect: thread 2 executed every NOP once",
             f"got {value_of(out2, 'x0')}")
    c.expect(value_of(out2, "vg") == "4", "reconnect: vCPU 0 kept its VL", f"got {value_of(out2, 'vg')}")
    c.expect(stub.alive(), "the daemon is still running after two sessions")
c.done()
