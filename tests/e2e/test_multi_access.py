#!/usr/bin/env python3
"""Who may attach what: a gdb-multiarch 13 running as another user (setpriv --reuid=nobody) is refused by
a root daemon, over loopback TCP and over a unix socket, for `serve --multi --sim` (it sees no VMM and
cannot attach the daemon's) and for the single-guest `serve --sim` (the connection is refused, with
the reason). Root clients are served (every other e2e test)."""
import os
import shutil
import subprocess
import tempfile

from harness import *
from multi_harness import *

SETPRIV = shutil.which("setpriv")
c = Checker("e2e multi access")


def as_nobody(stub, commands, extended):
    """gdb-multiarch as uid nobody, group nogroup, no supplementary groups (never more privilege)."""
    target = "extended-remote" if extended else "remote"
    args = [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups", GDB, "-nx", "-batch",
            "-ex", "set pagination off", "-ex", "set confirm off", "-ex", f"target {target} {stub.target()}"]
    for cmd in commands:
        args += ["-ex", cmd]
    env = dict(os.environ, HOME="/tmp")
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90, env=env,
                       cwd="/")
    return p.stdout


if os.geteuid() != 0 or SETPRIV is None:
    c.skip("clients as another uid", "needs root and setpriv (util-linux) to run gdb as nobody")
    c.done()

tmp = tempfile.mkdtemp(prefix="svedbg-multi-")
os.chmod(tmp, 0o755)  # nobody may reach the socket file; the daemon decides who is served
try:
    for listen in ("127.0.0.1:0", f"unix:{tmp}/multi.sock"):
        with MultiStub(listen=listen) as stub:
            pid = stub.proc.pid
            via = "unix" if listen.startswith("unix:") else "127.0.0.1:"
            out = as_nobody(stub, ["info os processes", f"attach {pid}", "echo done\\n"], True)
            # gdb 13 prints nothing for an empty list.
            c.expect(re.search(rf"^{pid}\s", out, re.M) is None, f"{listen}: nobody's list shows no VMM of root's",
                     out)
            c.expect_in("Attaching to Remote target failed", out, f"{listen}: nobody cannot attach root's VMM")
            stub.wait_log(rf"uid 65534 \(nobody\) (on|from) {via}\S* may not debug pid {pid}: it is owned by uid 0 "
                          r"\(root\)")
            # root still can, at the same time.
            out = gdb_ext(stub, [f"attach {pid}", "echo vg:\\n", "p $vg", "detach"])
            c.expect(value_of(out, "vg") == "32", f"{listen}: root attaches", out)

    for listen, extra in (("127.0.0.1:0", []), (f"unix:{tmp}/single.sock", ["--socket-mode", "0666"])):
        with Svedbg(*extra, listen=listen) as stub:
            out = as_nobody(stub, ["info threads"], False)
            c.expect_re(r"Remote failure reply: E\.svedbg: refused: uid 65534 \(nobody\) (on unix|from 127\.0\.0\.1:"
                        r"\d+) may not debug this guest: it is owned by uid 0 \(root\)", out,
                        f"serve --sim on {listen}: nobody's gdb prints why it is refused")
            c.expect_in("No threads.", out, f"serve --sim on {listen}: nobody did not attach")
            stub.wait_log(r"refusing \S+: uid 65534 \(nobody\)")
            out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"])
            c.expect(value_of(out, "vg") == "32", f"serve --sim on {listen}: root is served", out)
    # The default unix socket of a single-guest daemon stays 0600.
    with Svedbg(listen=f"unix:{tmp}/default.sock") as stub:
        c.expect(os.stat(f"{tmp}/default.sock").st_mode & 0o777 == 0o600, "serve's unix socket is 0600 by default")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
