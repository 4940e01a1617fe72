#!/usr/bin/env python3
"""Real gdb-multiarch reads the simulated guest's SVE state, thread by thread."""
from harness import *

c = Checker("e2e registers")
with Svedbg() as stub:
    cmds = ["info threads", "info registers"]
    for t in range(1, 5):
        cmds += [f"thread {t}",
                 "echo vg:\\n", "p $vg",
                 "echo z5:\\n", "p/x $z5.b.u",
                 "echo p3:\\n", "p $p3",
                 "echo ffr:\\n", "p $ffr",
                 "echo x7:\\n", "p/x $x7",
                 "echo sp:\\n", "p/x $sp",
                 "echo pc:\\n", "p/x $pc",
                 "echo zsize:\\n", "p sizeof($z0)",
                 "echo z1d:\\n", "p/x $z1.d.u[0]",
                 "echo v2:\\n", "p/x $v2.b.u",
                 "echo end:\\n"]
    cmds += ["x/16xb 0x40000000", "x/4xb 0x40001000", "x/2i $pc",
             "thread 3", "info registers system", "echo mpidr3:\\n", "p/x $mpidr_el1",
             "echo zcr3:\\n", "p $zcr_el1", "set $sctlr_el1 = 1", "echo sctlr3:\\n", "p/x $sctlr_el1"]
    out = run_gdb(stub, cmds)

    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        mark = r"\*" if t == 1 else " "
        c.expect_re(rf'^{mark}\s+{t}\s+Thread {t} "vCPU {t-1}" \(vCPU {t-1}, VL {bits} bits\)',
                    out, f"info threads names thread {t} after its vCPU and shows its VL")
    c.expect_re(r"^x0\s+0x0\s+0$", out, "info registers shows x0 of vCPU 0")
    c.expect_re(r"^sp\s+0x80000000\s", out, "info registers shows sp")
    c.expect_re(r"^pc\s+0x40000000\s", out, "info registers shows pc")

    blocks = out.split("end:\n")
    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        cpu = t - 1
        eff = bits // 8
        block = blocks[t - 1]
        c.expect(value_of(block, "vg") == str(bits // 64), f"thread {t}: $vg == {bits // 64}",
                 f"got {value_of(block, 'vg')}")
        c.expect(value_of(block, "z5") == gdb_array(z_bytes(cpu, 5, eff, 256), hexfmt),
                 f"thread {t}: $z5.b.u follows the fixture, zero above VL {bits}",
                 f"got {value_of(block, 'z5')}\nwant {gdb_array(z_bytes(cpu, 5, eff, 256), hexfmt)}")
        c.expect(value_of(block, "p3") == gdb_array(p_bytes(cpu, 3, eff, 32)),
                 f"thread {t}: $p3 follows the fixture", f"got {value_of(block, 'p3')}")
        c.expect(value_of(block, "ffr") == gdb_array(ffr_bytes(eff, 32)),
                 f"thread {t}: $ffr is 0xff below VL/8 bytes", f"got {value_of(block, 'ffr')}")
        c.expect(value_of(block, "x7") == hex(0x1000 * cpu + 7), f"thread {t}: x7", f"got {value_of(block, 'x7')}")
        c.expect(value_of(block, "sp") == hex(0x80000000 + 0x1000 * cpu), f"thread {t}: sp",
                 f"got {value_of(block, 'sp')}")
        c.expect(value_of(block, "pc") == "0x40000000", f"thread {t}: pc", f"got {value_of(block, 'pc')}")
        c.expect(value_of(block, "zsize") == "256", f"thread {t}: description VL is the max (2048 bits)",
                 f"got {value_of(block, 'zsize')}")
        z1 = z_bytes(cpu, 1, eff, 8)
        c.expect(value_of(block, "z1d") == hex(int.from_bytes(bytes(z1), "little")),
                 f"thread {t}: $z1.d.u[0] is little-endian", f"got {value_of(block, 'z1d')}")
        c.expect(value_of(block, "v2") == gdb_array(z_bytes(cpu, 2, eff, 16), hexfmt),
                 f"thread {t}: $v2 is the low 128 bits of $z2", f"got {value_of(block, 'v2')}")

    c.expect_re(r"^0x40000000:\s+0x1f\s+0x20\s+0x03\s+0xd5\s+0x1f\s+0x20\s+0x03\s+0xd5$", out,
                "x/16xb 0x40000000 shows NOP instructions")
    want = r"\s+".join(f"0x{(0x1000 + i) % 251:02x}" for i in range(4))
    c.expect_re(r"^0x40001000:\s+" + want + "$", out, "RAM at offset 0x1000 is o mod 251")
    c.expect_re(r"=> 0x40000000:\s+nop", out, "gdb disassembles the guest's NOP")
    c.expect_re(r"^sctlr_el1\s+0x30d00800\s", out, "info registers system shows SCTLR_EL1")
    c.expect_re(r"^ttbr0_el1\s+0x0\s", out, "info registers system shows TTBR0_EL1")
    c.expect(value_of(out, "mpidr3") == "0x80000002", "MPIDR_EL1 of vCPU 2", f"got {value_of(out, 'mpidr3')}")
    c.expect(value_of(out, "zcr3") == "0", "ZCR_EL1 of vCPU 2 (VL 128: LEN 0)", f"got {value_of(out, 'zcr3')}")
    c.expect_re(r"Could not write register \"sctlr_el1\"", out, "system registers are read-only by default")
    c.expect(value_of(out, "sctlr3") == "0x30d00800", "a refused write leaves SCTLR_EL1 alone",
             f"got {value_of(out, 'sctlr3')}")
c.done()
