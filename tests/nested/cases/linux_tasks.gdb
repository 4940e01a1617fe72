# sve-tasks lists every task with its VL and where its SVE state is;
# sve-task-regs prints a switched-out task's Z/P/FFR from thread.sve_state.
python
import os, re, sys
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/linux"))
import l2gdb
progs = {p["pid"]: p for p in l2gdb.programs()}
l2gdb.load_vmlinux()
l2gdb.connect()
gdb.execute("source " + os.path.join(os.environ["RUN_GUEST_SRC"], "tools/gdb/svedbg-tasks.py"))
end
sve-tasks
python
ROW = re.compile(r"^(0x[0-9a-f]+) +(\d+) (.{16}) +(\S+) +(\d+) (.+)$")


def table():
    """sve-tasks' rows by pid (the full walk of the task list)."""
    rows = {}
    for line in gdb.execute("sve-tasks", to_string=True).splitlines()[1:]:
        m = ROW.match(line)
        if m:
            rows[int(m.group(2))] = {"task": int(m.group(1), 16), "comm": m.group(3).strip(), "cpu": m.group(4),
                                     "vl": int(m.group(5)), "where": m.group(6)}
    return rows


def quick_rows(addrs):
    """The svespins' rows at this stop, from their task_structs only (the
    addresses sve-tasks printed; a task_struct does not move), through the
    functions svedbg-tasks.py defines."""
    running = running_tasks()
    return {pid: task_info(Task(addr), running) for pid, addr in addrs.items()}


def on_vcpus():
    """{pid: vCPU} of the svespins in EL0 on a vCPU at this stop."""
    out = {}
    for t in l2gdb.threads():
        t.switch()
        if (l2gdb.reg("cpsr") >> 2) & 3 == 0 and l2gdb.reg("x21") in progs:
            out[l2gdb.reg("x21")] = t.num - 1
    return out


def regs_now(vl):
    lines = {}
    for n in range(32):
        v = l2gdb.read_z(n, vl // 64)
        lines[f"z{n}"] = "{" + ", ".join(hex(x) for x in v) + "}"
    for n in list(range(16)) + ["ffr"]:
        name = "ffr" if n == "ffr" else f"p{n}"
        lines[name] = "{" + ", ".join(hex(x) for x in l2gdb.read_p(name, vl // 64)) + "}"
    return lines


rows = table()
addrs = {pid: rows[pid]["task"] for pid in progs if pid in rows}
for pid, p in sorted(progs.items()):
    r = rows.get(pid, {})
    l2gdb.check(f"sve-tasks: pid {pid} svespin VL {p['vl']}", r.get("comm") == "svespin" and r.get("vl") == p["vl"],
                f"{r}")
l2gdb.check("sve-tasks: pid 0 swapper/0 (init_task)", rows.get(0, {}).get("comm") == "swapper/0")
l2gdb.check("sve-tasks: kernel threads have no user FP state", rows.get(2, {}).get("where") == "-", f"{rows.get(2)}")
# Which task has its state where, checked against the vCPUs at several
# stops. Each svespin found saved: its save area is printed (once) and
# checked against the values svespin wrote; once one of them is next seen
# on a vCPU, its registers there must equal what the save area held.
saved_regs = {}
compared = None
for rnd in range(16):
    rows, live = quick_rows(addrs), on_vcpus()
    for pid, vcpu in live.items():
        l2gdb.check(f"round {rnd}: pid {pid} on vCPU {vcpu} is live cpu {vcpu}",
                    rows[pid]["where"] == f"live cpu {vcpu}", rows[pid]["where"])
    saved = [pid for pid in progs if rows[pid]["where"] == "saved sve"]
    print(f"round {rnd}: on the vCPUs: {sorted(live)}; saved sve: {saved}")
    for pid in saved:
        if pid in saved_regs:
            continue
        out = gdb.execute(f"sve-task-regs {pid}", to_string=True)
        if not saved_regs:
            print(out, end="")
        saved_regs[pid] = dict(re.findall(r"^(\w+) = (\{.*\})$", out, re.M))
        vl = progs[pid]["vl"]
        want = {}
        for n in range(32):
            want[f"z{n}"] = "{" + ", ".join(hex(l2gdb.z_expected(pid, vl, n, i)) for i in range(vl // 64)) + "}"
        for n in range(17):
            name = "ffr" if n == 16 else f"p{n}"
            want[name] = "{" + ", ".join(hex(b) for b in l2gdb.pred_bytes(l2gdb.p_expected_bits(pid, vl, n), vl)) + "}"
        l2gdb.check(f"sve-task-regs {pid}: the 49 registers svespin wrote", saved_regs[pid] == want,
                    f"differ: {[k for k in want if saved_regs[pid].get(k) != want[k]]}")
    for pid, vcpu in live.items():
        if pid in saved_regs and pid not in saved:
            # The registers of that vCPU's thread, not of the last one on_vcpus() selected.
            next(t for t in l2gdb.threads() if t.num - 1 == vcpu).switch()
            now = regs_now(progs[pid]["vl"])
            l2gdb.check(f"round {rnd}: saved z/p/ffr of pid {pid} equal its registers on vCPU {vcpu}",
                        now == saved_regs[pid], f"differ: {[k for k in now if saved_regs[pid].get(k) != now[k]]}")
            compared = pid
    if compared is not None:
        break
    l2gdb.reconnect(0.5)
l2gdb.check("a saved task was later seen on a vCPU", compared is not None)
end
detach
