#!/usr/bin/env python3
"""Steps that step (issue 16), with real gdb-multiarch on the simulated guest
with a timer interrupt pending at every resume (`monitor sim irq every N`),
as a real Linux guest's is: `stepi` executes the stopped program's next
instruction, never the IRQ vector; `continue` from a software or hardware
breakpoint on a loop advances the loop's counter; `monitor step-irq off`
gives back the old behaviour (the step lands on VBAR_EL1 + 0x280 and the
loop never advances), so that these checks can fail. A hardware watchpoint
on a store in the loop is hit once per round.

The guest (one vCPU): NOPs from 0x40000000 (each: x0 += 1), with a
`b 0x40000000` written at 0x40000100 (a loop of 64 NOPs); VBAR_EL1 =
0x40002000 with an `eret` at the IRQ vectors; PSTATE = EL1h with I and F
clear (0x305)."""
from harness import *

ERET = 0xd69f03e0
VBAR = 0x40002000
SETUP = [
    "monitor sim irq every 1000",
    f"set $vbar_el1 = {VBAR:#x}",
    f"set {{int}}{VBAR + 0x280:#x} = {ERET:#x}",
    f"set {{int}}{VBAR + 0x480:#x} = {ERET:#x}",
    "set {int}0x40000100 = 0x17ffffc0",  # b .-0x100
    "set $cpsr = 0x305",
]


def stub():
    return Svedbg("--sim-vcpus", "1", "--allow-sysreg-writes")


def stepi_run(mode):
    cmds = SETUP + [f"monitor step-irq {mode}"]
    for i in range(10):
        cmds += ["stepi", f"echo pc{i}:\\n", "p/x $pc"]
    cmds += ["echo x0:\\n", "p/x $x0", "echo cpsr:\\n", "p/x $cpsr", "monitor step-irq", "kill"]
    with stub() as s:
        return run_gdb(s, cmds)


def continue_run(mode, bp):
    cmds = SETUP + [f"monitor step-irq {mode}", f"{bp} *0x40000080"]
    for i in range(3):
        cmds += ["continue", f"echo pc{i}:\\n", "p/x $pc", f"echo x0_{i}:\\n", "p/x $x0"]
    cmds += ["kill"]
    with stub() as s:
        return run_gdb(s, cmds)


c = Checker("e2e step-irq")

out = stepi_run("mask")
pcs = [value_of(out, f"pc{i}") for i in range(10)]
c.expect(pcs == [hex(0x40000004 + 4 * i) for i in range(10)], "mask: 10 stepi execute 10 NOPs, pc += 4 each", out)
c.expect(value_of(out, "x0") == "0xa", "mask: x0 counted 10 instructions", out)
c.expect(value_of(out, "cpsr") == "0x305", "mask: the guest's PSTATE (I, F clear) after the steps", out)
c.expect_in("step-irq mask: 10 steps with IRQ/FIQ masked", out, "monitor step-irq reports the masked steps")

out = stepi_run("off")
c.expect(value_of(out, "pc0") == hex(VBAR + 0x280), "off: the first stepi lands on the IRQ vector", out)

for bp in ("break", "hbreak"):
    out = continue_run("mask", bp)
    x0 = [value_of(out, f"x0_{i}") for i in range(3)]
    c.expect([value_of(out, f"pc{i}") for i in range(3)] == ["0x40000080"] * 3, f"mask, {bp}: each continue "
             "stops at the breakpoint", out)
    c.expect(x0 == ["0x20", "0x60", "0xa0"], f"mask, {bp}: each continue goes once round the loop (x0 += 64)",
             out)

    out = continue_run("off", bp)
    x0 = [value_of(out, f"x0_{i}") for i in range(3)]
    c.expect(x0 == ["0x20", "0x20", "0x20"], f"off, {bp}: continue never gets past the breakpoint (the old "
             "behaviour)", out)
# A watchpoint: a `str x0, [x1]` in the loop (x0 counts the NOPs before it:
# 62 in the first round, 63 more each round). gdb stops before the store,
# steps over it with the watchpoint removed, then reports the new value.
WATCH = ["set {int}0x400000f8 = 0xf9000020", "set $x1 = 0x40003000", "monitor step-irq mask",
         "watch *(long *)0x40003000"]
cmds = SETUP + WATCH
for i in range(3):
    cmds += ["continue", f"echo pc{i}:\\n", "p/x $pc", f"echo val{i}:\\n", "p *(long *)0x40003000"]
with stub() as s:
    out = run_gdb(s, cmds + ["kill"])
c.expect([value_of(out, f"val{i}") for i in range(3)] == ["62", "125", "188"],
         "mask, watch: each continue reports the next store of the loop", out)
c.expect([value_of(out, f"pc{i}") for i in range(3)] == ["0x400000fc"] * 3,
         "mask, watch: gdb stepped over the store, not into the IRQ vector", out)
c.expect_in("New value = 188", out, "gdb reported the watchpoint's new value")
c.done()
