# Live (attached after the dumps): every register but the spin loop's x20
# and pc, and 64 KiB of guest RAM from the image's load address. $vg is
# printed on its own: gdb 13 takes the first thread's $vg in a core from its
# NT_ARM_SVE header, which --sve-notes gdb13 must write at the payload VL
# (2048 here; docs/dumps.md), while the live stub says 8 (VL 512).
python
import os
names = [f"z{i}" for i in range(32)] + [f"p{i}" for i in range(16)] + ["ffr", "fpsr", "fpcr", "cpsr", "sp"] + \
        [f"x{i}" for i in range(31) if i != 20]
def snapshot():
    f = gdb.selected_frame()
    regs = {n: str(f.read_register(n)) for n in names}
    mem = bytes(gdb.selected_inferior().read_memory(0x40080000, 0x10000))
    x20 = int(f.read_register("x20"))
    return regs, mem, x20
live, live_mem, live_x20 = snapshot()
end
p/x $z0.b.u[63]
p $vg
detach
python
gdb.execute("core-file " + os.environ["RUN_GUEST_DISK_FILE"])
core, core_mem, core_x20 = snapshot()
diff = [n for n in names if live[n] != core[n]]
print(f"core: {len(names)} registers compared, {len(diff)} differ: {diff[:4]}")
print(f"core: {len(core_mem)} bytes of guest RAM compared, equal: {core_mem == live_mem}")
print(f"core: x20 {core_x20:#x} (dump) <= {live_x20:#x} (live, later): {core_x20 <= live_x20}")
end
p/x $z0.b.u[63]
p/x $z31.b.u[0]
p $vg
info threads
