#!/usr/bin/env python3
"""Run control with real gdb-multiarch on the simulated guest: software and
hardware breakpoints, all-stop over four vCPUs, Ctrl-C, and detach leaving
no breakpoint behind. The guest program (README): NOPs from 0x40000000
(each: pc += 4, x0 += 1), `b .` at 0x40000ffc; the vCPUs run one
instruction each in turn."""
import signal

from harness import *

c = Checker("e2e breakpoints")
with Svedbg() as stub:
    out = run_gdb(stub, [
        "break *0x40000010",
        "continue",
        "echo pc1:\\n", "p/x $pc",
        "echo x0_1:\\n", "p/x $x0",
        "info threads",
        "x/i $pc",
        "continue",
        "echo stop2:\\n", "p $_thread",
        "delete 1",
        "hbreak *0x40000040",
        "continue",
        "echo pc3:\\n", "p/x $pc",
        "echo thr3:\\n", "p $_thread",
        "delete",
        "watch *(int*)0x40002000",
        "info watchpoints",
        "delete",
        "break *0x40000080",
        "detach",
    ])
    c.expect_in('Thread 1 "vCPU 0" hit Breakpoint 1, 0x0000000040000010 in ?? ()', out,
                "software breakpoint: vCPU 0 reaches it first")
    c.expect(value_of(out, "pc1") == "0x40000010", "pc at the breakpoint", out)
    c.expect(value_of(out, "x0_1") == "0x4", "vCPU 0 executed four NOPs", out)
    for t in range(2, 5):
        c.expect_re(rf'^  {t}\s+Thread {t} "vCPU {t-1}" .* 0x0000000040000010 in \?\? \(\)$', out,
                    f"all-stop: thread {t} stopped too, at the same place")
    c.expect_re(r"=> 0x40000010:\s+nop", out, "gdb sees the original instruction, not the BRK")
    c.expect_in('Thread 2 "vCPU 1" hit Breakpoint 1, 0x0000000040000010 in ?? ()', out,
                "continuing: gdb steps vCPU 0 over the breakpoint, vCPU 1 hits it")
    c.expect(value_of(out, "stop2") == "2", "the stop reply named thread 2", out)
    c.expect_in('Thread 1 "vCPU 0" hit Breakpoint 2, 0x0000000040000040 in ?? ()', out,
                "hardware breakpoint (Z1) hit")
    c.expect(value_of(out, "pc3") == "0x40000040", "pc at the hardware breakpoint", out)
    c.expect_re(r"^3\s+hw watchpoint\s+keep y\s+\*\(int\*\)0x40002000$", out, "a hardware watchpoint (Z2) is accepted")

    # Detach removed the breakpoint at 0x40000080 and the guest ran on past it
    # to the `b .` loop.
    stub.wait_clients_done(1)
    out = run_gdb(stub, ["x/xw 0x40000080", "echo pc:\\n", "p/x $pc", "detach"])
    c.expect_re(r"^0x40000080:\s+0xd503201f$", out, "detach restored the instruction under the breakpoint")
    c.expect(value_of(out, "pc") == "0x40000ffc", "after detach the guest ran on to its loop", out)

    # Ctrl-C: gdb turns SIGINT into 0x03; the stop is SIGINT on a thread.
    # SIGINT once gdb has sent its continue (vCont;c) and waits for the stop.
    stub.wait_clients_done(2)
    tap = ClientTap(stub)
    p = subprocess.Popen([GDB, "-nx", "-batch", "-ex", f"target remote {tap.target()}", "-ex", "continue",
                          "-ex", "echo pc:\\n", "-ex", "p/x $pc", "-ex", "detach"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tap.wait_sent(b"$vCont;c")
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    c.expect_in('received signal SIGINT, Interrupt.', out, "Ctrl-C stops the running guest")
    c.expect(value_of(out, "pc") == "0x40000ffc", "stopped in the guest's loop", out)
c.done()
