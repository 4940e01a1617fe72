# Steps that step and continues that progress, in a user program of a real
# Linux guest (attach backend, svedbg serve --pid on the L2's QEMU).
python
import os, sys
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/linux"))
import l2gdb
prog = l2gdb.programs()[0]
pid = prog["pid"]
print(f"program: pid {pid} VL {prog['vl']}")
l2gdb.connect()

def in_program():
    for t in l2gdb.threads():
        t.switch()
        if (l2gdb.reg("cpsr") >> 2) & 3 == 0 and l2gdb.reg("x21") == pid:
            return t
    return None

thread = None
for attempt in range(20):
    thread = in_program()
    if thread:
        break
    l2gdb.reconnect(0.3)
l2gdb.check("a vCPU stopped in the program", thread is not None)
print(f"vCPU {thread.num - 1}: pc {l2gdb.reg('pc'):#x} x19 {l2gdb.reg('x19')}")

# The loop is add x19 / str x19 / b back: find the add by its encoding.
def insn(addr):
    return int(gdb.parse_and_eval(f"*(unsigned int *){addr:#x}"))
pc = l2gdb.reg("pc")
loop = next(a for a in (pc, pc - 4, pc - 8) if insn(a) == 0x91000673)  # add x19, x19, #1
order = [loop, loop + 4, loop + 8]

# 1. N steps, N instructions: each stepi executes the program's next one.
steps_ok = 0
for i in range(12):
    before_pc, before_x19 = l2gdb.reg("pc"), l2gdb.reg("x19")
    gdb.execute("stepi", to_string=True)
    after_pc, after_x19, el = l2gdb.reg("pc"), l2gdb.reg("x19"), (l2gdb.reg("cpsr") >> 2) & 3
    want_pc = order[(order.index(before_pc) + 1) % 3]
    want_x19 = before_x19 + (1 if before_pc == loop else 0)
    if l2gdb.check(f"stepi {i}: {before_pc:#x} -> {want_pc:#x} at EL0, x19 {want_x19}",
                   after_pc == want_pc and el == 0 and after_x19 == want_x19,
                   f"pc {after_pc:#x} EL{el} x19 {after_x19}"):
        steps_ok += 1
l2gdb.check("12 stepi executed 12 instructions of the program", steps_ok == 12, f"{steps_ok}")

# 2. Continue from a breakpoint makes progress: software, then hardware.
for kind in ("break", "hbreak"):
    gdb.execute(f"{kind} *{loop:#x}", to_string=True)
    counters = []
    for i in range(3):
        gdb.execute("continue", to_string=True)
        counters.append(l2gdb.reg("x19"))
        l2gdb.check(f"{kind}: stop {i} at the loop in the program", l2gdb.reg("pc") == loop and l2gdb.reg("x21") == pid,
                    f"pc {l2gdb.reg('pc'):#x} x21 {l2gdb.reg('x21')}")
    l2gdb.check(f"{kind}: each continue advanced the counter by one iteration",
                all(b == a + 1 for a, b in zip(counters, counters[1:])), f"{counters}")
    gdb.execute("delete", to_string=True)

# 2b. A write watchpoint on the program's counter (g_state.counter, the
# `str x19, [x20]` of the loop): each continue stops once the store has
# executed (gdb steps over the non-continuable arm64 watchpoint), with the
# new value, one iteration after the previous stop.
counter_addr = prog["state"] + 24  # State{magic, pid, vl, counter}
gdb.execute(f"watch *(unsigned long *){counter_addr:#x}", to_string=True)
watch = gdb.breakpoints()[-1]
stops = []
gdb.events.stop.connect(lambda ev: stops.append(ev))  # gdb prints the stop itself, not into to_string
values = []
for i in range(3):
    stops.clear()
    gdb.execute("continue", to_string=True)
    by_watch = any(isinstance(ev, gdb.BreakpointEvent) and watch in ev.breakpoints for ev in stops)
    value = int(gdb.parse_and_eval(f"*(unsigned long *){counter_addr:#x}"))
    values.append(value)
    l2gdb.check(f"watch: stop {i} after the store, with the new value",
                by_watch and value == l2gdb.reg("x19") and l2gdb.reg("x21") == pid and l2gdb.reg("pc") == loop + 8,
                f"by the watchpoint {by_watch} pc {l2gdb.reg('pc'):#x} value {value} x19 {l2gdb.reg('x19')} "
                f"x21 {l2gdb.reg('x21')}")
l2gdb.check("watch: each continue advanced the counter by one iteration",
            all(b == a + 1 for a, b in zip(values, values[1:])), f"{values}")
gdb.execute("delete", to_string=True)
gdb.execute("monitor step-irq")

# 3. What the steps did before (and do with `monitor step-irq off`): the
# guest's timer interrupt is pending, so the step is taken to the IRQ vector.
gdb.execute("monitor step-irq off", to_string=True)
vbar = l2gdb.reg("vbar_el1")
gdb.execute("stepi", to_string=True)
l2gdb.check("step-irq off: the step lands on VBAR_EL1 + 0x480 (IRQ from EL0)", l2gdb.reg("pc") == vbar + 0x480,
            f"pc {l2gdb.reg('pc'):#x}, VBAR_EL1 {vbar:#x}")
gdb.execute("monitor step-irq mask", to_string=True)
end
detach
