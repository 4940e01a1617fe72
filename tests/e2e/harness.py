"""Tier-3 test harness: the real `svedbg serve` daemon and real gdb-multiarch.

Expected values are computed here from the fixture formula documented in
README.md (not from the C++ code), so these tests cross-check the daemon.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

SVEDBG = os.environ.get("SVEDBG", "svedbg")
GDB = os.environ.get("GDB", "gdb-multiarch")


class Svedbg:
    """`svedbg serve --sim` on an ephemeral port (or a unix socket)."""

    def __init__(self, *args, listen="127.0.0.1:0", env=None):
        self.args = list(args)
        self.listen = listen
        self.env = env
        self.proc = None
        self.port = None
        self.address = None
        self.banner = ""
        self.connect_line = ""

    def __enter__(self):
        return self.start([SVEDBG, "serve", "--sim", "--listen", self.listen] + self.args)

    def start(self, cmd):
        """Runs `svedbg serve ...` and reads where it listens from its banner."""
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        line = self.proc.stdout.readline()
        self.banner = line
        m = re.search(r" on (\S+)$", line.strip())
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise AssertionError(f"svedbg did not start: {line!r} {err!r}")
        self.address = m.group(1)
        if not self.address.startswith("unix:"):
            self.port = int(self.address.rsplit(":", 1)[1])
        self.connect_line = self.proc.stdout.readline()  # "connect with: ..." line
        self._log = []
        self._log_done = False
        self._log_cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        return self

    def _read_log(self):
        for line in self.proc.stderr:
            with self._log_cond:
                self._log.append(line)
                self._log_cond.notify_all()
        with self._log_cond:
            self._log_done = True
            self._log_cond.notify_all()

    @property
    def stderr(self):
        """What the daemon logged so far (all of it once it has exited)."""
        with self._log_cond:
            return "".join(self._log)

    def wait_log(self, pattern, count=1, timeout=60):
        """Waits until `count` lines of the daemon's log match `pattern` (bounded)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                n = sum(1 for line in self._log if rx.search(line))
                if n >= count:
                    return
                left = deadline - time.monotonic()
                if left <= 0 or self._log_done:
                    raise AssertionError(f"svedbg logged {n} lines matching {pattern!r}, not {count}, "
                                         f"within {timeout} s:\n{''.join(self._log)}")
                self._log_cond.wait(left)

    def wait_clients_done(self, count, timeout=60):
        """Waits until the daemon has seen `count` clients leave (each connection ends with one such line: a client finished or dropped, or a connection closed before its first packet)."""
        self.wait_log(r"^svedbg: (client \S+ (finished|dropped)|connection from \S+ closed without a packet)", count,
                      timeout)

    def target(self):
        if self.address.startswith("unix:"):
            return self.address[len("unix:"):]
        return self.address

    def alive(self):
        return self.proc.poll() is None

    def stop_daemon(self):
        """SIGTERM, bounded: the daemon must exit within 10 s (else it is killed and this fails)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("svedbg did not exit on SIGTERM")

    def __exit__(self, *exc):
        self.stop_daemon()
        self._reader.join(timeout=10)
        if exc[0] is None and self.proc.returncode != 0:
            raise AssertionError(f"svedbg exited with {self.proc.returncode}: {self.stderr}")
        return False


def run_gdb(stub, commands, timeout=90, connect=True, check=True):
    """Runs gdb-multiarch in batch mode; returns its combined output."""
    args = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", "set print elements unlimited", "-ex", "set width 0"]
    if connect:
        args += ["-ex", f"target remote {stub.target()}"]
    for c in commands:
        args += ["-ex", c]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"gdb exited with {p.returncode}:\n{p.stdout}")
    return p.stdout


# ---- the documented fixture ------------------------------------------------
DEFAULT_EFFECTIVE_BITS = [2048, 512, 128, 256]


def z_bytes(c, n, eff_bytes, size_bytes):
    return [((c * 37 + n * 11 + b) % 256) if b < eff_bytes else 0 for b in range(size_bytes)]


def p_bytes(c, n, eff_bytes, size_bytes):
    plen = eff_bytes // 8
    return [((c * 5 + n * 3 + b) % 256) if b < plen else 0 for b in range(size_bytes)]


def ffr_bytes(eff_bytes, size_bytes):
    plen = eff_bytes // 8
    return [0xFF if b < plen else 0 for b in range(size_bytes)]


def gdb_array(values, fmt=str, repeat_threshold=10):
    """Formats a list as gdb prints arrays: runs >= threshold become <repeats N times>."""
    out = []
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        run = j - i
        if run >= repeat_threshold:
            out.append(f"{fmt(values[i])} <repeats {run} times>")
            i = j
        else:
            out.append(fmt(values[i]))
            i += 1
    return "{" + ", ".join(out) + "}"


class CoreStub(Svedbg):
    """`svedbg serve --core FILE` on an ephemeral port."""

    def __init__(self, core):
        super().__init__()
        self.core = core

    def __enter__(self):
        return self.start([SVEDBG, "serve", "--core", self.core, "--listen", self.listen])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=30):
    """Waits until something listens on 127.0.0.1:port, read from /proc/net/tcp
    rather than by connecting: qemu's gdbstub takes exactly one connection."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.split(":")[1], 16) == port:
                    return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def hexfmt(v):
    return hex(v)


class Checker:
    def __init__(self, name):
        self.name = name
        self.failures = 0
        self.checks = 0
        self.skips = []

    def expect(self, cond, what, detail=""):
        self.checks += 1
        if not cond:
            self.failures += 1
            print(f"FAIL: {what}\n{detail}", file=sys.stderr)

    def expect_in(self, needle, haystack, what):
        self.expect(needle in haystack, what, f"--- expected to find:\n{needle}\n--- in:\n{haystack}")

    def expect_re(self, pattern, haystack, what):
        self.expect(re.search(pattern, haystack, re.M) is not None, what,
                    f"--- expected to match: {pattern}\n--- in:\n{haystack}")

    def skip(self, what, why):
        """A check that cannot run here: the test then ends as skipped (77), not passed."""
        self.skips.append(f"{what}: {why}")
        print(f"SKIP: {what}: {why}", file=sys.stderr)

    def done(self):
        """Exit status 1 on any failure, else 77 (ctest SKIP_RETURN_CODE) when a check was skipped, else 0."""
        print(f"{self.name}: {self.checks - self.failures} passed, {self.failures} failed, {len(self.skips)} skipped")
        for s in self.skips:
            print(f"  skipped: {s}")
        sys.exit(1 if self.failures else 77 if self.skips else 0)


def value_of(output, name):
    """The text after '$N = ' for the print command tagged by `echo <name>:`."""
    m = re.search(re.escape(name) + r":\n\$\d+ = (.*)$", output, re.M)
    return m.group(1) if m else None


def decode_payload(raw):
    """Undoes '}' escapes and '*' run-length encoding (GDB docs, "Overview")."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "}":
            out.append(chr(ord(raw[i + 1]) ^ 0x20))
            i += 2
        elif ch == "*":
            out.append(out[-1] * (ord(raw[i + 1]) - 29))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def raw_packet(payload):
    s = sum(payload.encode("latin-1")) % 256
    return f"${payload}#{s:02x}".encode("latin-1")


class ClientTap:
    """A TCP relay between one client and the daemon that records what the client sends, so a
    test can wait until the client has sent a packet (e.g. gdb's `vCont;c`) instead of sleeping."""

    def __init__(self, stub):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.stub = stub
        self.sent = b""
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def target(self):
        return self.address

    def _serve(self):
        client, _ = self.listener.accept()
        self.listener.close()
        upstream = socket.create_connection(("127.0.0.1", self.stub.port))
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if record:
                    with self.cond:
                        self.sent += data
                        self.cond.notify_all()
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_sent(self, needle, timeout=60):
        """Waits (bounded) until the client has sent `needle` (bytes) on to the daemon."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while needle not in self.sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the client did not send {needle!r} within {timeout} s")
                self.cond.wait(left)
