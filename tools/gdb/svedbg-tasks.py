"""svedbg's gdb extension for Linux guests: every task's SVE state.

A vCPU's registers hold the SVE state of the one task running there; every
other task's state is in kernel memory, where the guest kernel saved it when
it switched the task out (arch/arm64/kernel/fpsimd.c, fpsimd_save()). With
the guest kernel's vmlinux (debug info) loaded, this reads that memory
through svedbg (gdb-multiarch 13.1 and later, Linux arm64 6.1; see
docs/linux-guests.md):

    (gdb) file vmlinux-6.1.0-57-cloud-arm64      # before target remote
    (gdb) target remote 127.0.0.1:1234
    (gdb) source tools/gdb/svedbg-tasks.py    # installed: PREFIX/share/svedbg/

  sve-tasks                 every task: task_struct address, pid, comm,
                            the CPU it runs on (if it does), its SVE vector length, and where its
                            FP/SVE state is: "live cpu N" (in the vCPU's
                            registers now), "saved sve" (thread.sve_state),
                            "saved fpsimd" (thread.uw.fpsimd_state: the task
                            has not used SVE since its last syscall), or "-"
                            (a kernel thread: no user FP state)
  sve-task-regs PID [REG..]  the saved Z0-Z31, P0-P15 and FFR (or just the
                            registers named) of task PID, from its save area,
                            in `p/x $z0.d.u` / `p/x $p0` form, lanes below
                            the task's own VL. A live task's save area is
                            stale: read the vCPU's registers instead.

The save area (thread.sve_state) is laid out as the SVE signal frame's
register block without its header (arch/arm64/include/uapi/asm/sve_context.h,
__SVE_ZREG_OFFSET etc.; fpsimd.c, sve_pffr()): for vq = VL / 128,
Z0..Z31 at n * 16 * vq, P0..P15 at 512 * vq + n * 2 * vq, FFR at
512 * vq + 32 * vq; all little-endian, as in the registers.

Which task the kernel runs on CPU c is per_cpu(runqueues, c).curr; the task's
state is in that CPU's registers unless its TIF_FOREIGN_FPSTATE is set
(arch/arm64/include/asm/thread_info.h: bit 3; TIF_SVE is bit 23; these are
macros, absent from the debug info). Kernel VL fields: thread.vl[ARM64_VEC_SVE]
(5.16 and later, in bytes) or thread.sve_vl (before).
"""
import gdb

TIF_FOREIGN_FPSTATE = 1 << 3
TIF_SVE = 1 << 23
PF_KTHREAD = 0x00200000  # include/linux/sched.h


def _ulong(value):
    return int(value.cast(gdb.lookup_type("unsigned long")))


def _offset_of(struct, field):
    return int(gdb.parse_and_eval(f"(unsigned long)&((struct {struct} *)0)->{field}"))


def _snapshot(addr, type_):
    """The object at addr read in one memory transfer (a task_struct is ~4 KiB:
    one read instead of one per field, each a round trip to the stub)."""
    data = gdb.selected_inferior().read_memory(addr, type_.sizeof)
    return gdb.Value(bytes(data), type_)


class Task:
    """A task_struct read at once; fields by name, its address as .addr."""

    def __init__(self, addr):
        self.addr = addr
        self.value = _snapshot(addr, gdb.lookup_type("struct task_struct"))

    def __getitem__(self, field):
        return self.value[field]


def _list(head_addr, first_next, struct, field):
    """Addresses of the struct entries of a kernel list_head at head_addr
    (container_of each node), first_next its next pointer."""
    off = _offset_of(struct, field)
    ulong_ptr = gdb.lookup_type("unsigned long").pointer()
    node = first_next
    while node != head_addr:
        yield node - off
        node = int(gdb.Value(node).cast(ulong_ptr).dereference())


def _per_cpu(symbol, cpu, type_name):
    return gdb.parse_and_eval(f"*({type_name} *)((unsigned long)&{symbol} + __per_cpu_offset[{cpu}])")


def running_tasks():
    """{task address: cpu} of the task the kernel runs on each CPU."""
    out = {}
    for cpu in range(int(gdb.parse_and_eval("nr_cpu_ids"))):
        curr = _per_cpu("runqueues", cpu, "struct rq")["curr"]
        out[_ulong(curr)] = cpu
    return out


def all_tasks():
    """init_task, every thread of every process (init_task.tasks, then each signal->thread_head)."""
    init_addr = int(gdb.parse_and_eval("(unsigned long)&init_task"))
    init = Task(init_addr)
    yield init
    tasks_off = _offset_of("task_struct", "tasks")
    for proc_addr in _list(init_addr + tasks_off, _ulong(init["tasks"]["next"]), "task_struct", "tasks"):
        proc = Task(proc_addr)
        head_addr = _ulong(proc["signal"]) + _offset_of("signal_struct", "thread_head")
        head = _snapshot(head_addr, gdb.lookup_type("struct list_head"))
        node_off = _offset_of("task_struct", "thread_node")
        if _ulong(head["next"]) == proc_addr + node_off and _ulong(head["prev"]) == proc_addr + node_off:
            yield proc  # single-threaded: the list holds only proc
            continue
        for addr in _list(head_addr, _ulong(head["next"]), "task_struct", "thread_node"):
            yield proc if addr == proc_addr else Task(addr)


def sve_vl_bytes(task):
    thread = task["thread"]
    try:
        return int(thread["vl"][0])  # ARM64_VEC_SVE
    except gdb.error:
        return int(thread["sve_vl"])


def fp_type_name(task):
    """FP_STATE_SVE / FP_STATE_FPSIMD / FP_STATE_CURRENT (6.1: thread.fp_type), or None before it existed."""
    try:
        return str(task["thread"]["fp_type"])
    except gdb.error:
        return None


def task_info(task, running):
    flags = int(task["thread_info"]["flags"])
    addr = task.addr
    cpu = running.get(addr)
    kthread = int(task["flags"]) & PF_KTHREAD != 0
    if kthread:
        where = "-"
    elif cpu is not None and not flags & TIF_FOREIGN_FPSTATE:
        where = f"live cpu {cpu}"
    else:
        fp_type = fp_type_name(task)
        sve = fp_type == "FP_STATE_SVE" if fp_type is not None else bool(flags & TIF_SVE)
        where = "saved sve" if sve else "saved fpsimd"
    return {"task": addr, "pid": int(task["pid"]), "comm": task["comm"].string(), "cpu": cpu,
            "vl": sve_vl_bytes(task) * 8, "where": where, "tif_sve": bool(flags & TIF_SVE)}


def tasks():
    running = running_tasks()
    return [task_info(t, running) for t in all_tasks()]


def find_task(pid):
    for t in all_tasks():
        if int(t["pid"]) == pid:
            return t
    raise gdb.GdbError(f"sve-task-regs: no task with pid {pid}")


def saved_sve_regs(task):
    """{"z0": bytes, ..., "p15": bytes, "ffr": bytes} from thread.sve_state, and the VL in bits."""
    vl_bytes = sve_vl_bytes(task)
    vq = vl_bytes // 16
    base = _ulong(task["thread"]["sve_state"])
    if base == 0:
        raise gdb.GdbError(f"task {int(task['pid'])} has no SVE save area (thread.sve_state is NULL)")
    size = 32 * 16 * vq + 17 * 2 * vq
    blob = bytes(gdb.selected_inferior().read_memory(base, size))
    regs = {f"z{n}": blob[n * 16 * vq:(n + 1) * 16 * vq] for n in range(32)}
    pbase = 32 * 16 * vq
    for n in range(16):
        regs[f"p{n}"] = blob[pbase + n * 2 * vq:pbase + (n + 1) * 2 * vq]
    regs["ffr"] = blob[pbase + 16 * 2 * vq:pbase + 17 * 2 * vq]
    return regs, vl_bytes * 8, base


def format_reg(name, data):
    """`p/x $z0.d.u` form for Z (64-bit lanes), `p/x $p0` form (bytes) for P/FFR."""
    if name.startswith("z"):
        lanes = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
    else:
        lanes = list(data)
    return "{" + ", ".join(hex(v) for v in lanes) + "}"


class SveTasks(gdb.Command):
    """List the guest's tasks with their SVE vector length and where their SVE state is.

Usage: sve-tasks
Columns: TASK (the task_struct's address), PID, COMM, CPU (the CPU the task runs on, or -), VL (bits), STATE
(live cpu N | saved sve | saved fpsimd | - for kernel threads)."""

    def __init__(self):
        super().__init__("sve-tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("usage: sve-tasks")
        print(f"{'TASK':<18} {'PID':>6} {'COMM':<16} {'CPU':>3} {'VL':>5} STATE")
        for t in tasks():
            cpu = "-" if t["cpu"] is None else str(t["cpu"])
            print(f"{t['task']:#018x} {t['pid']:>6} {t['comm']:<16} {cpu:>3} {t['vl']:>5} {t['where']}")


class SveTaskRegs(gdb.Command):
    """Print a task's saved SVE registers from the kernel's save area (thread.sve_state).

Usage: sve-task-regs PID [REG...]   REG: z0..z31, p0..p15, ffr (default: all)."""

    def __init__(self):
        super().__init__("sve-task-regs", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        words = arg.split()
        if not words or not words[0].isdigit():
            raise gdb.GdbError("usage: sve-task-regs PID [REG...]")
        task = find_task(int(words[0]))
        info = task_info(task, running_tasks())
        regs, vl, base = saved_sve_regs(task)
        names = words[1:] or list(regs)
        for n in names:
            if n not in regs:
                raise gdb.GdbError(f"sve-task-regs: no register {n} (z0..z31, p0..p15, ffr)")
        print(f"task {info['pid']} ({info['comm']}): VL {vl} bits, state {info['where']}, "
              f"save area thread.sve_state = {base:#x}")
        if info["where"] != "saved sve":
            print(f"note: the save area does not hold this task's current state ({info['where']})")
        for n in names:
            print(f"{n} = {format_reg(n, regs[n])}")


SveTasks()
SveTaskRegs()
