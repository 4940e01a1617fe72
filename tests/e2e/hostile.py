"""Helpers for the hostile-client e2e tests: a daemon whose log can be read
while it runs, bounded waits for conditions, raw RSP clients, /proc figures."""
import os
import re
import socket
import subprocess
import tempfile
import time

from harness import SVEDBG, Svedbg, decode_payload, raw_packet


def wait_until(pred, timeout=20, step=0.02):
    """Polls pred() until it is true (returns its value) or timeout s pass (returns None)."""
    deadline = time.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.time() >= deadline:
            return None
        time.sleep(step)


class LiveSvedbg(Svedbg):
    """`svedbg serve --sim` whose stderr goes to a file, readable at any time (log())."""

    def __init__(self, *args, listen="127.0.0.1:0", env=None, preexec_fn=None, stderr_path=None):
        super().__init__(*args, listen=listen, env=env)
        self.preexec_fn = preexec_fn
        self.stderr_path = stderr_path

    def start(self, cmd):
        if self.stderr_path is None:
            fd, self.stderr_path = tempfile.mkstemp(prefix="svedbg-log.")
            os.close(fd)
        self.errfile = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errfile, text=True, env=self.env,
                                     preexec_fn=self.preexec_fn)
        line = self.proc.stdout.readline()
        m = re.search(r" on (\S+)$", line.strip())
        if not m:
            raise AssertionError(f"svedbg did not start: {line!r} {self.log()!r}")
        self.address = m.group(1)
        if not self.address.startswith("unix:"):
            self.port = int(self.address.rsplit(":", 1)[1])
        self.proc.stdout.readline()
        return self

    def log(self):
        if getattr(self, "_final_log", None) is not None:
            return self._final_log
        with open(self.stderr_path) as f:
            return f.read()

    @property
    def stderr(self):
        """What the daemon logged so far (all of it once it has exited)."""
        return self.log()

    def wait_log(self, pattern, timeout=20):
        return wait_until(lambda: re.search(pattern, self.log(), re.M), timeout)

    def __exit__(self, *exc):
        self.stop_daemon()
        self.errfile.close()
        self._final_log = self.log()
        os.unlink(self.stderr_path)
        if exc[0] is None and self.proc.returncode != 0:
            raise AssertionError(f"svedbg exited with {self.proc.returncode}: {self.stderr}")
        return False


def proc_status_kib(pid, field):
    """A kB figure of /proc/PID/status, e.g. VmHWM (peak RSS) or VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(stub, timeout=10):
    if stub.address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(stub.target())
    else:
        s = socket.create_connection(("127.0.0.1", stub.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_packets(s, count, buf=b""):
    """Reads until `count` whole packets arrived; returns (payloads, acks and bytes around them)."""
    payloads = []
    while len(payloads) < count:
        start = buf.find(b"$")
        end = buf.find(b"#", start) if start >= 0 else -1
        if start >= 0 and end >= 0 and len(buf) >= end + 3:
            payloads.append(decode_payload(buf[start + 1:end].decode("latin-1")))
            buf = buf[end + 3:]
            continue
        chunk = s.recv(1 << 20)
        if not chunk:
            raise EOFError(f"connection closed after {len(payloads)} packets")
        buf += chunk
    return payloads, buf


def parse_packets(data):
    """The payloads of every whole packet in data."""
    return [decode_payload(m.decode("latin-1")) for m in re.findall(rb"\$([^#$]*)#[0-9a-fA-F]{2}", data)]


def read_to_eof(s):
    data = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return data
        data += chunk


def closed_by_peer(s, timeout):
    """True when the peer closes (EOF or reset) within timeout s; reads and drops any data."""
    s.settimeout(timeout)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def memory_hex(offset, length):
    """The fixture's RAM bytes at 0x40000000 + offset (README), as hex."""
    out = []
    for o in range(offset, offset + length):
        if o >= 0x1000:
            b = o % 251
        else:
            word = 0x14000000 if o & ~3 == 0xffc else 0xd503201f
            b = (word >> (8 * (o % 4))) & 0xff
        out.append(f"{b:02x}")
    return "".join(out)


__all__ = ["wait_until", "LiveSvedbg", "proc_status_kib", "open_fds", "connect", "read_packets", "read_to_eof",
           "closed_by_peer", "parse_packets", "memory_hex", "raw_packet", "SVEDBG"]
