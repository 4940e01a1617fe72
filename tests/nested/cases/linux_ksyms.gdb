# Kernel symbols through svedbg (issue 16 part 3): Debian's -dbg vmlinux of
# the L2 kernel (booted nokaslr) loaded with `file`, gdb attached to the L2
# QEMU through `svedbg serve --pid`.
python
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/linux"))
import l2gdb
l2gdb.load_vmlinux()
l2gdb.connect()
end
set pagination off
p init_task.comm
x/s linux_banner
python
banner = gdb.parse_and_eval("(char *)linux_banner").string().rstrip("\n")
versions = [l[len("l2: version: "):] for l in l2gdb.vm_lines() if l.startswith("l2: version: ")]
l2gdb.check("linux_banner equals the guest's /proc/version", versions == [banner], f"{versions!r} vs {banner!r}")


def symbol(addr):
    """'do_idle' for an address in do_idle (the ELF symbol, not an inlined callee)."""
    out = gdb.execute(f"info symbol {addr:#x}", to_string=True)
    return out.split()[0] if " in section " in out else "??"


def frame_chain(limit=12):
    """The call chain from the AAPCS64 frame records: pc, lr (the leaf
    cpu_do_idle keeps its return address in x30), then [x29 + 8] of each
    record. Return addresses are kernel addresses: their top 16 bits are
    forced to ones, which also removes a pointer-authentication code."""
    names = [symbol(l2gdb.reg("pc")), symbol(l2gdb.reg("x30") | 0xffff000000000000)]
    fp = l2gdb.reg("x29")
    ulong = gdb.lookup_type("unsigned long").pointer()
    while fp and len(names) < limit:
        ret = int(gdb.Value(fp + 8).cast(ulong).dereference()) | 0xffff000000000000
        fp = int(gdb.Value(fp).cast(ulong).dereference())
        names.append(symbol(ret))
    return names


# A vCPU in the idle loop (the L2 guest runs one sleeping program: both are
# idle most of the time); if neither is at this stop, stop again.
idle = None
for attempt in range(6):
    for t in l2gdb.threads():
        t.switch()
        if symbol(l2gdb.reg("pc")) == "cpu_do_idle":
            idle = t.num
            break
    if idle is not None:
        break
    l2gdb.reconnect()
l2gdb.check("a vCPU stopped in cpu_do_idle", idle is not None)
gdb.execute(f"thread {idle}")
chain = frame_chain()
print("frame records: " + " <- ".join(chain))
l2gdb.check("cpu_do_idle called from arch_cpu_idle, from do_idle", chain[:2] == ["cpu_do_idle", "arch_cpu_idle"]
            and "do_idle" in chain)
# gdb's own unwinder, for the record: with pointer authentication on (this
# case does not set arm64.nopauth) gdb 13.1 cannot strip the PAC of the
# return addresses the kernel saved, so its `bt` stops after the first
# signed one (docs/linux-guests.md; case linux_kaslr boots arm64.nopauth
# and checks gdb's full `bt`).
gdb.execute("bt 3")
j0 = int(gdb.parse_and_eval("jiffies"))
print(f"jiffies at the first stop: {j0}")
# The anchor docs/linux-guests.md uses for the KASLR offset: VBAR_EL1 is a
# kernel symbol's runtime address (booted nokaslr: offset 0).
for t in l2gdb.threads():
    t.switch()
    vbar = l2gdb.reg("vbar_el1")
    info = gdb.execute(f"info symbol {vbar:#x}", to_string=True).strip()
    print(f"VBAR_EL1 of vCPU {t.num - 1}: {vbar:#x}: {info}")
gdb.execute(f"thread {idle}")
end
# A hardware breakpoint on what the hrtimer interrupt calls when the
# sleeping program's nanosleep expires (50 times a second): hit, continue,
# hit again. gdb places `hbreak hrtimer_wakeup` at two locations (the
# function's entry and after its prologue, one call hits both), so the
# second breakpoint is one hardware breakpoint at the first hit's pc.
hbreak hrtimer_wakeup
continue
python
l2gdb.check("stopped in hrtimer_wakeup", symbol(l2gdb.reg("pc")) == "hrtimer_wakeup")
j1 = int(gdb.parse_and_eval("jiffies"))
pc1 = l2gdb.reg("pc")
gdb.execute("delete")
gdb.execute(f"hbreak *{pc1:#x}")
end
continue
python
l2gdb.check("stopped in hrtimer_wakeup again, at the same pc", l2gdb.reg("pc") == pc1)
j2 = int(gdb.parse_and_eval("jiffies"))
print(f"jiffies at the breakpoint hits: {j1}, {j2}")
l2gdb.check("jiffies grows between stops", j0 < j1 < j2, f"{j0} {j1} {j2}")
end
delete
detach
