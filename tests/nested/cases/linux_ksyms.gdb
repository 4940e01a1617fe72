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
banner = gdb.parse_and_eval("linux_banner").string().rstrip("\n")
versions = [l[len("l2: version: "):] for l in l2gdb.vm_lines() if l.startswith("l2: version: ")]
l2gdb.check("linux_banner equals the guest's /proc/version", versions == [banner], f"{versions!r} vs {banner!r}")
# A vCPU in the idle loop (the L2 guest runs one sleeping program: both are
# idle most of the time); if neither is at this stop, stop again.
idle = None
for attempt in range(6):
    for t in l2gdb.threads():
        t.switch()
        names = []
        f = gdb.newest_frame()
        while f is not None and len(names) < 16:
            names.append(f.name() or "??")
            f = f.older()
        if names and names[0] == "cpu_do_idle" and "do_idle" in names:
            idle = t.num
            break
    if idle is not None:
        break
    l2gdb.reconnect()
l2gdb.check("a vCPU stopped in cpu_do_idle, called from do_idle", idle is not None)
gdb.execute(f"thread {idle}")
gdb.execute("bt")
j0 = int(gdb.parse_and_eval("jiffies"))
print(f"jiffies at the first stop: {j0}")
end
# A hardware breakpoint on what the hrtimer interrupt calls when the
# sleeping program's nanosleep expires (50 times a second): hit, continue,
# hit again.
hbreak hrtimer_wakeup
continue
p $pc == &hrtimer_wakeup
python j1 = int(gdb.parse_and_eval("jiffies"))
continue
p $pc == &hrtimer_wakeup
bt 3
python
j2 = int(gdb.parse_and_eval("jiffies"))
print(f"jiffies at the breakpoint hits: {j1}, {j2}")
l2gdb.check("jiffies grows between stops", j0 < j1 < j2, f"{j0} {j1} {j2}")
end
delete
detach
