# The checks of cases step_irq_timer_inprocess, step_irq_timer_attach and
# step_irq_timer_2vcpus (their .gdb files import this): a bare-metal guest whose EL1 virtual timer
# ticks every 1 ms through svedbg-vmm's vGICv3 (--gic), so the tick is
# pending whenever the debugger resumes the vCPU. Addresses from
# tests/nested/guests/timer_irq.S (--load-addr 0x40080000).
import time

import gdb

LOOP = 0x40080400          # add x19, x19, #1; str x19, [x20]; b loop
COUNTS = 0x40081000        # counts[c] = x19 of vCPU c (stored by the loop), 8 bytes each
TICKS = 0x40081080         # ticks[c]: timer interrupts handled by vCPU c
ORDER = [LOOP, LOOP + 4, LOOP + 8]
WFI_AT = 0x40080480        # wfi; add x22, x22, #1; b loop
VECTORS = 0x40080800       # VBAR_EL1
IRQ_EL1H = 0x280           # VBAR_EL1 offset: IRQ, current EL with SP_ELx


def check(what, ok, detail=""):
    print(f"check: {what}: {'ok' if ok else 'FAILED'}{(' ' + detail) if detail and not ok else ''}")
    return ok


def reg(name):
    return int(gdb.parse_and_eval(f"${name}")) & 0xFFFFFFFFFFFFFFFF


def u64(addr):
    return int(gdb.parse_and_eval(f"*(unsigned long long *){addr:#x}"))


def run_to_loop(vcpu=0):
    gdb.execute(f"tbreak *{LOOP:#x} thread {vcpu + 1}", to_string=True)
    gdb.execute("continue", to_string=True)
    cpsr = reg("cpsr")
    check("stopped at the loop, EL1h with IRQ/FIQ unmasked",
          reg("pc") == LOOP and cpsr & 0xF == 5 and cpsr & 0xC0 == 0 and gdb.selected_thread().num == vcpu + 1,
          f"pc {reg('pc'):#x} cpsr {cpsr:#x} thread {gdb.selected_thread().num}")
    ticks = u64(TICKS + 8 * vcpu)
    check("the timer ticked before the first stop", ticks > 0, f"ticks {ticks}")
    return ticks


def steps(n, vcpu=0):
    """N stepi execute exactly the loop's next N instructions."""
    counts = COUNTS + 8 * vcpu
    ok = 0
    for i in range(n):
        before_pc, before_x19, before_cpsr = reg("pc"), reg("x19"), reg("cpsr")
        gdb.execute("stepi", to_string=True)
        pc, x19, cpsr = reg("pc"), reg("x19"), reg("cpsr")
        want_pc = ORDER[(ORDER.index(before_pc) + 1) % 3]
        want_x19 = before_x19 + (1 if before_pc == LOOP else 0)
        stored = u64(counts) == x19 if before_pc == LOOP + 4 else True
        # The loop sets no flags: PSTATE (I/F clear) is exactly as before.
        if check(f"stepi {i}: {before_pc:#x} -> {want_pc:#x}, x19 {want_x19}, PSTATE {before_cpsr:#x}",
                 pc == want_pc and x19 == want_x19 and cpsr == before_cpsr and cpsr & 0xC0 == 0 and stored,
                 f"pc {pc:#x} x19 {x19} cpsr {cpsr:#x} counts[{vcpu}] {u64(counts)}"):
            ok += 1
    check(f"{n} stepi executed {n} instructions of the loop", ok == n, f"{ok}")


def wfi_step():
    """A step over WFI returns: the pending tick wakes it though masked."""
    pc0, cpsr0 = reg("pc"), reg("cpsr")
    gdb.execute(f"set $pc = {WFI_AT:#x}")
    gdb.execute("stepi", to_string=True)
    check("stepi over wfi (tick pending, masked by the step) completes at the next instruction",
          reg("pc") == WFI_AT + 4 and reg("cpsr") == cpsr0, f"pc {reg('pc'):#x} cpsr {reg('cpsr'):#x}")
    gdb.execute(f"set $pc = {pc0:#x}")


def continues(kind):
    """Continue from a breakpoint on the loop: one iteration each."""
    gdb.execute(f"{kind} *{LOOP:#x}", to_string=True)
    counters = []
    for i in range(3):
        gdb.execute("continue", to_string=True)
        counters.append(reg("x19"))
        check(f"{kind}: stop {i} at the loop", reg("pc") == LOOP, f"pc {reg('pc'):#x}")
    check(f"{kind}: each continue advanced the counter by one iteration",
          all(b == a + 1 for a, b in zip(counters, counters[1:])), f"{counters}")
    gdb.execute("delete", to_string=True)


def continues_watch():
    """Continue from a watchpoint on the stored counter: one store each."""
    gdb.execute(f"watch *(unsigned long long *){COUNTS:#x}", to_string=True)
    seen = []
    for i in range(3):
        gdb.execute("continue", to_string=True)
        seen.append((reg("pc"), u64(COUNTS), reg("x19")))
    check("watch: each continue stops after the next store, counter + 1",
          all(pc == LOOP + 8 and c == x for pc, c, x in seen) and
          all(b[1] == a[1] + 1 for a, b in zip(seen, seen[1:])),
          f"{[(hex(p), c, x) for p, c, x in seen]}")
    gdb.execute("delete", to_string=True)


def run():
    ticks0 = run_to_loop()
    t0 = time.monotonic()
    steps(12)
    t1 = time.monotonic()
    wfi_step()
    continues("break")
    continues("hbreak")
    t2 = time.monotonic()
    continues_watch()
    ticks1 = u64(TICKS)
    # Wall time seen by gdb (each step/continue includes gdb's own register
    # and memory reads of the checks); not checked, for docs/step-irq.md.
    print(f"measure: {(t1 - t0) / 12 * 1000:.1f} ms per checked stepi, {(t2 - t1) / 6 * 1000:.1f} ms per checked "
          f"continue from a breakpoint; ticks {ticks0} -> {ticks1}")
    check("timer interrupts were delivered meanwhile", ticks1 > ticks0, f"ticks {ticks0} -> {ticks1}")
    gdb.execute("monitor step-irq")
    step_off()


def step_off():
    # Without the mask the tick, pending at the resume, is taken first.
    gdb.execute("monitor step-irq off", to_string=True)
    pc0, vbar = reg("pc"), reg("vbar_el1")
    gdb.execute("stepi", to_string=True)
    check("step-irq off: the step lands on VBAR_EL1 + 0x280 (IRQ, EL1h), ELR_EL1 = the unexecuted pc",
          reg("pc") == vbar + IRQ_EL1H and reg("elr_el1") == pc0,
          f"pc {reg('pc'):#x} VBAR_EL1 {vbar:#x} ELR_EL1 {reg('elr_el1'):#x} (was at {pc0:#x})")
    gdb.execute("monitor step-irq mask", to_string=True)


def run_smp():
    """Two vCPUs, each with its own redistributor and timer."""
    gdb.execute(f"break *{VECTORS + IRQ_EL1H:#x}", to_string=True)
    seen = set()
    for _ in range(20):
        gdb.execute("continue", to_string=True)
        seen.add(gdb.selected_thread().num)
        if len(seen) == 2:
            break
    check("both vCPUs took timer interrupts (IRQ handler entered on threads 1 and 2)", seen == {1, 2}, f"{seen}")
    gdb.execute("delete", to_string=True)
    run_to_loop(1)
    steps(12, 1)
    gdb.execute("monitor step-irq")
    step_off()
