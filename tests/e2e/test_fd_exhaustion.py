#!/usr/bin/env python3
"""Descriptor exhaustion: accept() failing with EMFILE is logged once, the daemon keeps listening, and the
next gdb is served once descriptors are free again."""
import resource

from harness import *
from hostile import *

c = Checker("e2e fd exhaustion")
LIMIT = 64


def low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


with LiveSvedbg(preexec_fn=low_fd_limit) as stub:
    pid = stub.proc.pid
    baseline = open_fds(pid)
    # The first connection holds the client slot; the daemon refuses the
    # others (each refusal holds a descriptor a few seconds) until it has
    # none left, and the rest wait in the listen backlog.
    conns = [connect(stub) for _ in range(LIMIT + 40)]
    c.expect(wait_until(lambda: open_fds(pid) >= LIMIT - 1, 20), "the daemon ran out of descriptors",
             f"{open_fds(pid)} open")
    c.expect(stub.wait_log(r"accept: .*(Too many open files|descriptor).*still listening"),
             "accept failing is logged", stub.log())
    for s in conns:
        s.close()
    c.expect(wait_until(lambda: open_fds(pid) <= baseline + 2, 30), "the descriptors are freed again",
             f"{open_fds(pid)} open, {baseline} at start")
    try:
        out = run_gdb(stub, ["echo vg:\\n", "p $vg", "detach"], timeout=60, check=False)
    except subprocess.TimeoutExpired:
        out = "gdb timed out"
    c.expect(value_of(out, "vg") == "32", "after the exhaustion a new gdb is served", out)
    c.expect(stub.alive(), "the daemon is alive")
    log = stub.log()
    c.expect(len(re.findall(r"accept: .*still listening", log)) == 1, "the failing accept is logged once", log)
c.done()
