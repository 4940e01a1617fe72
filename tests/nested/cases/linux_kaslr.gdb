# KASLR (issue 16 part 3): the vmlinux loaded at its link addresses names
# nothing the moved kernel has; `svedbg-kaslr` (tools/gdb/svedbg-kaslr.py)
# finds the offset from VBAR_EL1 (checked against kimage_vaddr in guest
# memory and the EL1 vCPUs' pcs) and reloads the symbols with it.
python
import os, re, sys
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/linux"))
import l2gdb
l2gdb.load_vmlinux()
l2gdb.connect()
gdb.execute("set pagination off")
print("\n".join(l for l in l2gdb.vm_lines() if l.startswith("l2: cmdline: ")))


def comm():
    try:
        return gdb.parse_and_eval("init_task.comm").string(length=9)
    except (gdb.error, UnicodeDecodeError) as e:  # gdb.MemoryError included
        return f"error: {e}"


before = comm()
print(f"before: init_task.comm: {before}")
l2gdb.check("before svedbg-kaslr, init_task.comm at its link address is not swapper/0", before != "swapper/0")
gdb.execute("source " + os.path.join(os.environ["RUN_GUEST_SRC"], "tools/gdb/svedbg-kaslr.py"))
out = gdb.execute("svedbg-kaslr", to_string=True)
print(out, end="")
m = re.search(r"KASLR offset (0x[0-9a-f]+)", out)
offset = int(m.group(1), 16) if m else 0
l2gdb.check("the offset is non-zero and a multiple of 2 MiB", offset != 0 and offset % 0x200000 == 0, f"{offset:#x}")
end
p init_task.comm
x/s linux_banner
python
banner = gdb.parse_and_eval("(char *)linux_banner").string().rstrip("\n")
versions = [l[len("l2: version: "):] for l in l2gdb.vm_lines() if l.startswith("l2: version: ")]
l2gdb.check("linux_banner equals the guest's /proc/version", versions == [banner], f"{versions!r} vs {banner!r}")
# Running the command again (symbols now moved) finds the same offset and
# leaves them.
again = gdb.execute("svedbg-kaslr", to_string=True)
l2gdb.check("svedbg-kaslr again: same offset, symbols left as they are",
            f"KASLR offset {offset:#x}" in again and "already at that offset" in again, again.strip())


def symbol(addr):
    out = gdb.execute(f"info symbol {addr:#x}", to_string=True)
    return out.split()[0] if " in section " in out else "??"


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
bt = gdb.execute("bt 8", to_string=True)
print(bt, end="")
frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", bt, re.M)
l2gdb.check("bt: cpu_do_idle <- arch_cpu_idle <- ... do_idle <- cpu_startup_entry",
            frames[:2] == ["cpu_do_idle", "arch_cpu_idle"] and "do_idle" in frames and "cpu_startup_entry" in frames,
            f"{frames}")
end
detach
