"""Running Debian's lldb (14) in batch mode against the daemon and reading its
`gdb-remote packets` log; for the e2e tests and bench/ that drive lldb."""
import os
import re
import subprocess
import tempfile

from harness import decode_payload

LLDB = os.environ.get("LLDB", "lldb")


def run_lldb(target, commands, log, timeout=120, pre=()):
    """lldb --batch connected to `target` (host:port); `commands` run from a file that does not stop on errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lldb", delete=False) as f:
        f.write("\n".join(commands) + "\n")
        script = f.name
    try:
        args = [LLDB, "--no-lldbinit", "--batch"]
        for p in pre:
            args += ["-o", p]
        if log:
            args += ["-o", f"log enable -f {log} gdb-remote packets"]
        args += ["-o", f"gdb-remote {target}", "-o", f"command source -e false {script}"]
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return p.stdout
    finally:
        os.unlink(script)


def read_packets(log):
    """(sent, received) payload pairs from an lldb `gdb-remote packets` log."""
    text = open(log, encoding="latin-1").read()
    pkts = re.findall(r"(send|read) packet: \$(.*?)#[0-9a-f]{2}$", text, re.M | re.S)
    pairs, last = [], None
    for kind, raw in pkts:
        if kind == "send":
            last = decode_payload(raw)
        elif last is not None:
            pairs.append((last, decode_payload(raw)))
            last = None
    return pairs
