#!/usr/bin/env python3
"""`svedbg dump` ended by SIGINT or SIGTERM while it writes guest RAM.

A dump of 512 MiB of simulated RAM to an ELF core is signalled once its
temporary file (FILE.XXXXXX next to FILE) has grown past 1 MiB: svedbg must
end by that signal, leave no temporary file, and leave FILE as it was
before (absent, or its old contents), never half a core (docs: dump.hpp).
"""
import glob
import os
import signal
import subprocess
import tempfile
import time

from harness import *

TEMP_MIN_BYTES = 1 << 20


def temp_files(path):
    return [p for p in glob.glob(glob.escape(path) + ".*") if len(p) == len(path) + 7]


def wait_for_temp(proc, path, timeout=120):
    """The temporary file once it holds TEMP_MIN_BYTES, while svedbg still runs (None if it never does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for t in temp_files(path):
            try:
                if os.stat(t).st_size >= TEMP_MIN_BYTES:
                    return t
            except FileNotFoundError:
                pass
        time.sleep(0.01)
    return None


def interrupted_dump(c, sig, path, old):
    name = signal.Signals(sig).name
    if old is not None:
        with open(path, "wb") as f:
            f.write(old)
    proc = subprocess.Popen([SVEDBG, "dump", "--sim", "--sim-mem", "512", "--memory", "--format", "elf", "-o", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    temp = wait_for_temp(proc, path)
    c.expect(temp is not None, f"{name}: the dump writes a temporary file next to the output",
             f"svedbg exited with {proc.poll()} first")
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    c.expect(proc.returncode == -sig, f"{name}: svedbg ends by the signal",
             f"exit status {proc.returncode}, stderr {err!r}")
    c.expect(temp_files(path) == [], f"{name}: no temporary file is left", str(temp_files(path)))
    if old is None:
        c.expect(not os.path.exists(path), f"{name}: the output file is not created")
    else:
        with open(path, "rb") as f:
            c.expect(f.read() == old, f"{name}: the output file keeps its old contents")
        os.unlink(path)


c = Checker("e2e dump signal")
for sig, old in ((signal.SIGINT, None), (signal.SIGTERM, None), (signal.SIGTERM, b"the previous dump\n")):
    # A directory of its own each time: a file left by one run must not pass for the next one's.
    with tempfile.TemporaryDirectory() as tmp:
        interrupted_dump(c, sig, os.path.join(tmp, "guest.core"), old)
        c.expect(os.listdir(tmp) == [], "nothing is left in the directory", str(os.listdir(tmp)))
c.done()
