# Runs inside gdb-multiarch (bench/run passes it with -x after `target
# remote`): times each piece of work with time.perf_counter() and prints one
# line "BENCH {json}". Only the work is timed, not gdb's start-up or connect.
# Parameters come from the environment:
#   BENCH_READY  address to run to first (qemu: the program's `ready`), or ""
#   BENCH_BUF    address of the 1 MiB to read
#   BENCH_STEPS  number of stepi (default 1000)
#   BENCH_STUB_PID  the stub's process: its CPU time per piece of work is
#                reported too (KEY_stub_cpu), and gdb's own (KEY_gdb_cpu)
import json
import os
import time

import gdb


def run(cmd):
    return gdb.execute(cmd, to_string=True)


STUB_PID = os.environ.get("BENCH_STUB_PID", "")


def stub_cpu():
    # Seconds of CPU the stub has used: schedstat's first field (ns), summed
    # over its threads.
    if not STUB_PID:
        return 0.0
    total = 0
    task = f"/proc/{STUB_PID}/task"
    for tid in os.listdir(task):
        with open(f"{task}/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def timed(key, fn):
    c0, s0, t0 = time.process_time(), stub_cpu(), time.perf_counter()
    fn()
    t1 = time.perf_counter()
    res[key] = t1 - t0
    res[key + "_gdb_cpu"] = time.process_time() - c0
    res[key + "_stub_cpu"] = stub_cpu() - s0


def flush():
    # gdb keeps registers per stop and (code) memory in caches: empty them so
    # every timed piece really talks to the stub.
    run("maintenance flush register-cache")
    run("maintenance flush dcache")


ready = os.environ.get("BENCH_READY", "")
buf = int(os.environ["BENCH_BUF"], 0)
steps = int(os.environ.get("BENCH_STEPS", "1000"))
if ready:
    run(f"tbreak *{ready}")
    run("continue")

names = [f"$z{i}" for i in range(32)] + [f"$p{i}" for i in range(16)] + ["$ffr"]
res = {"vg": int(gdb.parse_and_eval("$vg")), "z_bytes": int(gdb.parse_and_eval("sizeof($z0)"))}


def all_registers():
    run("info all-registers")


def every_zp():
    for n in names:
        run(f"print {n}")


def fetch_registers():
    # Every register of the description fetched from the stub, nothing
    # printed: what the stub and the protocol cost without gdb's formatting.
    frame = gdb.selected_frame()
    for r in frame.architecture().registers():
        frame.read_register(r).fetch_lazy()


def memory():
    run(f"dump binary memory /dev/null {buf:#x} {buf + (1 << 20):#x}")


def step(n):
    for _ in range(n):
        run("stepi")
        run("info registers pc")
        run("x/i $pc")


# Warm gdb itself (Python, types, printing code) once, untimed.
all_registers()
every_zp()
fetch_registers()
step(5)

flush()
timed("info_all_registers", all_registers)
# Same again with gdb's register cache full: gdb's own formatting cost, no
# packets at all. The difference to the line above is what the stub costs.
timed("info_all_registers_cached", all_registers)
flush()
timed("print_z_p", every_zp)
timed("print_z_p_cached", every_zp)
flush()
timed("fetch_registers", fetch_registers)
flush()
timed("memory_1mib", memory)
flush()
timed("step_1000", lambda: step(steps))
print("BENCH " + json.dumps(res))
