#!/usr/bin/env python3
"""Socket activation: systemd-socket-activate (Debian's systemd 252) listens on
the socket, starts `svedbg serve --sim --listen systemd` (as dist/svedbg.service
does, with --sim for --multi) at the first connection, and real gdb-multiarch
reads the documented fixture through it; without --listen the inherited socket
is used too (TCP here); `--listen systemd` with no socket passed is refused, and
so are two sockets or one that does not listen; an explicit address wins."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import *

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACTIVATE = shutil.which("systemd-socket-activate")


class Activated:
    """systemd-socket-activate -l ADDRESS -- svedbg serve --sim ARGS; exec's the daemon in its own pid."""

    def __init__(self, address, args):
        self.address = address
        self.args = args

    def __enter__(self):
        cmd = [ACTIVATE, "-l", self.address, "--", SVEDBG, "serve", "--sim"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()  # "Listening on ADDRESS as 3."
        if "Listening on" not in line:
            raise AssertionError(f"systemd-socket-activate did not listen: {line!r}")
        return self

    def target(self):
        return self.address

    def comm(self):
        with open(f"/proc/{self.proc.pid}/comm") as f:
            return f.read().strip()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout = self.proc.stdout.read()
        self.stderr = self.proc.stderr.read()
        return False


def fixture_reads(c, stub, what):
    out = run_gdb(stub, ["echo vg:\\n", "p $vg", "thread 2", "echo vg2:\\n", "p $vg", "echo x1:\\n", "p/x $x1",
                         "echo z0:\\n", "p/x $z0.d.u[0]", "info threads", "detach"])
    c.expect(value_of(out, "vg") == "32", f"{what}: vCPU 0's $vg is 2048/64", out)
    c.expect(value_of(out, "vg2") == "8", f"{what}: vCPU 1's $vg is 512/64", out)
    c.expect(value_of(out, "x1") == hex(0x1000 * 1 + 1), f"{what}: vCPU 1's x1 = 0x1000*c + 1", out)
    lane = int.from_bytes(bytes(z_bytes(1, 0, 64, 8)), "little")
    c.expect(value_of(out, "z0") == hex(lane), f"{what}: vCPU 1's z0.d.u[0] follows the fixture", out)
    c.expect_re(r"^\s*4\s+Thread 4\b", out, f"{what}: 4 vCPUs as threads")


def hand_activated(sock, listen_fds, args):
    """Starts svedbg as a service manager would, by hand: `sock` at fd 3, LISTEN_PID = the daemon's own
    pid (bash's $$ survives its exec), LISTEN_FDS = listen_fds. Returns the Popen."""
    fd = sock.fileno()
    script = f'exec 3<&{fd}; export LISTEN_PID=$$ LISTEN_FDS={listen_fds}; exec "$@"'
    return subprocess.Popen(["bash", "-c", script, "bash", SVEDBG, "serve", "--sim"] + args, pass_fds=(fd,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


c = Checker("e2e socket activation")
if ACTIVATE is None:
    c.skip("socket activation", "systemd-socket-activate (Debian package systemd) is not installed")
    c.done()

# The unit files this test stands for.
with open(os.path.join(ROOT, "dist", "svedbg.service.in")) as f:
    service = f.read()
c.expect_re(r"^ExecStart=\S+/svedbg serve .*--listen systemd", service, "svedbg.service serves --listen systemd")
with open(os.path.join(ROOT, "dist", "svedbg.socket")) as f:
    socket_unit = f.read()
c.expect_re(r"^ListenStream=/run/svedbg/svedbg\.sock$", socket_unit, "svedbg.socket listens under /run/svedbg")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "svedbg.sock")
    with Activated(path, ["--listen", "systemd"]) as act:
        c.expect(act.comm().startswith("systemd-socket"), "no daemon runs before the first connection",
                 f"comm {act.comm()!r}")
        fixture_reads(c, act, "unix socket, first client (starts the daemon)")
        c.expect(act.comm() == "svedbg", "the daemon runs in the activator's place", f"comm {act.comm()!r}")
        fixture_reads(c, act, "unix socket, second client (same daemon)")
        c.expect(act.proc.poll() is None, "the daemon serves on after its clients left")
    c.expect(act.proc.returncode == 0, "SIGTERM ends the activated daemon cleanly",
             f"status {act.proc.returncode}\n{act.stderr}")
    c.expect_in(f"on unix:{path}", act.stdout, "the daemon says it serves the inherited unix socket")
    c.expect(os.path.exists(path), "the socket file is the service manager's: the daemon left it in place")

    # No --listen: the inherited socket is used anyway (here a TCP one).
    port = free_port()
    with Activated(f"127.0.0.1:{port}", []) as act:
        fixture_reads(c, act, "TCP, no --listen")
    c.expect(act.proc.returncode == 0, "TCP: SIGTERM ends the daemon cleanly", act.stderr)
    c.expect_in(f"on 127.0.0.1:{port}", act.stdout, "the daemon serves the inherited TCP socket")

# --listen systemd without a socket: a clear refusal, nothing served.
env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
r = subprocess.run([SVEDBG, "serve", "--sim", "--listen", "systemd"], capture_output=True, text=True, timeout=30,
                   env=env)
c.expect(r.returncode == 2 and "no socket was passed" in r.stderr, "--listen systemd without a socket is refused",
         f"status {r.returncode}\n{r.stdout}{r.stderr}")
# Variables meant for another process (LISTEN_PID is not ours) are no socket for us.
env.update(LISTEN_PID="1", LISTEN_FDS="1")
r = subprocess.run([SVEDBG, "serve", "--sim", "--listen", "systemd"], capture_output=True, text=True, timeout=30,
                   env=env)
c.expect(r.returncode == 2 and "no socket was passed" in r.stderr, "LISTEN_PID of another process is ignored",
         f"status {r.returncode}\n{r.stdout}{r.stderr}")

# By hand: an explicit address wins over a passed socket; two sockets, or one that does not listen, are refused.
with socket.create_server(("127.0.0.1", 0)) as inherited:
    p = hand_activated(inherited, 1, ["--listen", "127.0.0.1:0"])
    banner = p.stdout.readline()
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    m = re.search(r" on 127\.0\.0\.1:(\d+)$", banner.strip())
    c.expect(m is not None and int(m.group(1)) != inherited.getsockname()[1],
             "an explicit --listen address is served, not the passed socket", banner)
    p = hand_activated(inherited, 2, [])
    out, err = p.communicate(timeout=30)
    c.expect(p.returncode == 2 and "svedbg serves exactly one" in err, "LISTEN_FDS=2 is refused",
             f"status {p.returncode}\n{out}{err}")
with socket.socket() as idle:
    idle.bind(("127.0.0.1", 0))
    p = hand_activated(idle, 1, ["--listen", "systemd"])
    out, err = p.communicate(timeout=30)
    c.expect(p.returncode == 1 and "not a listening stream socket" in err,
             "a passed socket that does not listen is refused", f"status {p.returncode}\n{out}{err}")
c.done()
