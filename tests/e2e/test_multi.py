#!/usr/bin/env python3
"""`svedbg serve --multi --sim` with the real gdb-multiarch 13: extended-remote, `info os processes`,
`attach`, the documented fixture, `detach`, attach again, `kill` refused, `run` refused, and a second
client at the same time told who holds the VMM."""
import socket

from harness import *
from multi_harness import *


c = Checker("e2e multi")
with MultiStub() as stub:
    pid = stub.proc.pid
    c.expect_in("target extended-remote", stub.connect_line, "the banner says how to connect")
    out = gdb_ext(stub, [
        "info os processes",
        f"attach {pid}",
        "echo vg:\\n", "p $vg",
        "echo x1:\\n", "p/x $x1",
        "echo z0:\\n", "p/x $z0.b.u[0]",
        "echo mem:\\n", "p/x *(unsigned int *)0x40000000",
        "thread 2", "echo vg2:\\n", "p $vg",
        "detach",
        "info os processes",
        f"attach {pid}",
        "thread 4", "echo x3:\\n", "p/x $x3",
        "kill",
        "echo after-kill:\\n", "p $vg",
        "detach",
        "run",
    ], check=False)  # `run` fails, and so does gdb's exit status
    c.expect_re(rf"^{pid}\s+root\s+svedbg serve --multi --sim: a simulated SVE guest", out,
                "info os processes lists the simulated VMM under the daemon's pid and uid")
    c.expect_in("0x0000000040000000 in ?? ()", out, "gdb attaches and shows where the guest stopped")
    c.expect(value_of(out, "vg") == "32", "thread 1 (vCPU 0, VL 2048) has vg 32", out)
    c.expect(value_of(out, "x1") == "0x1", "x1 of vCPU 0 is 0x1000*0 + 1", out)
    c.expect(value_of(out, "z0") == hex(z_bytes(0, 0, 256, 256)[0]), "z0 byte 0 of vCPU 0", out)
    c.expect(value_of(out, "mem") == "0xd503201f", "guest RAM at 0x40000000 holds a NOP", out)
    c.expect(value_of(out, "vg2") == "8", "thread 2 (vCPU 1, VL 512) has vg 8", out)
    # Without multiprocess+ gdb 13 names the inferior "Remote target".
    c.expect(out.count("[Inferior 1 (Remote target) detached]") == 2, "detach keeps the session: detached twice",
             out)
    c.expect(value_of(out, "x3") == "0x3003", "after attaching again, x3 of vCPU 3 is 0x3003", out)
    c.expect_in("Can't kill process", out, "kill is refused")
    c.expect(value_of(out, "after-kill") == "4", "after the refused kill the VMM is still attached (thread 4: vg 4)",
             out)
    c.expect_in("Running the default executable on the remote target failed", out, "run is refused")
    stub.wait_log(r"kill refused: this svedbg daemon does not kill VMMs")
    c.expect(stub.alive(), "the daemon runs on")

    # Two clients at once: one holds the VMM, the other is told who.
    holder = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    c.expect(exchange(holder, "!") == "OK", "first client: extended mode")
    c.expect(exchange(holder, f"vAttach;{pid:x}").startswith("T05"), "first client attaches the VMM")
    port = holder.getsockname()[1]
    out = gdb_ext(stub, ["info os processes", f"attach {pid}", "echo still:\\n", "p 1"], check=False)
    c.expect_re(rf"^{pid}\s+root\s+.*uid 0 \(root\) from 127\.0\.0\.1:{port}", out,
                "a second client sees who holds the VMM (uid and address)")
    # gdb 13 names no pid here without multiprocess+; the reason is in the log and the list.
    c.expect_in("Attaching to Remote target failed", out, "the second client cannot attach it")
    stub.wait_log(rf"pid {pid} is already attached by uid 0 \(root\) from 127\.0\.0\.1:{port}")
    c.expect(exchange(holder, "D") == "OK", "first client detaches")
    out = gdb_ext(stub, [f"attach {pid}", "echo vg:\\n", "p $vg", "detach"])
    c.expect(value_of(out, "vg") == "32", "now the second client attaches it", out)
    holder.close()
c.done()
