#!/usr/bin/env python3
"""Binary memory reads with the real clients (issue 19, part 2).

lldb 14 probes `x0,0`, gets OK and reads memory with `x` (binary, no 'b'
prefix); gdb 13 does not announce "binary-upload+", is not offered it and
keeps reading with `m`. The whole 1 MiB of the sim's RAM read by lldb with
`x` must equal what gdb 13 reads with `m` (but for what lldb wrote); its fixture bytes (k mod 251)
contain every byte the protocol escapes ('#', '$', '}', '*'), in runs too.
"""
import os
import re
import shutil
import tempfile

from harness import *
from lldb_client import LLDB, read_packets, run_lldb

c = Checker("e2e binary memory")
if shutil.which(LLDB) is None:
    print(f"e2e binary memory: {LLDB} not found")
    raise SystemExit(1)

RAM, SIZE = 0x40000000, 1 << 20
SPECIAL = [0x23, 0x24, 0x7D, 0x2A, 0x41, 0x4F, 0x4B, 0x45, 0x30, 0x31]  # # $ } * A O K E 0 1

with Svedbg() as stub, tempfile.TemporaryDirectory() as tmp:
    log = os.path.join(tmp, "packets.log")
    lldb_dump = os.path.join(tmp, "lldb.bin")
    gdb_dump = os.path.join(tmp, "gdb.bin")
    # A run of '*' (escaped, never run-length encoded) after the special bytes.
    poke = " ".join(hex(b) for b in SPECIAL + [0x2A] * 20)
    # gdb 13 first: lldb kills the sim's guest when it quits (a new one starts).
    gout = run_gdb(stub, [f"dump binary memory {gdb_dump} {RAM:#x} {RAM + SIZE:#x}",
                          "set debug remote 1", "echo v:\\n",
                          "p/x *(unsigned char (*)[2])0x40002005"], check=False)
    c.expect_re(r"Sending packet: \$m40002005,2#", gout, "gdb 13 reads with m")
    c.expect(not re.search(r"Sending packet: \$x", gout), "gdb 13 never sends x", "")
    c.expect_re(r"^\$1 = \{0xa5, 0xa6\}$", gout, "gdb 13 reads the fixture (0x2005 mod 251)")
    out = run_lldb(stub.target(), [f"memory write -s1 0x40002000 {poke}",
                          "memory read -s1 -c30 -fx 0x40002000",
                          "memory read -s1 -c2 -fx 0x40002005",  # "OK": never taken for a status
                          f"memory read --force -b -o {lldb_dump} {RAM:#x} {RAM + SIZE:#x}"], log)
    pairs = read_packets(log)
    probe = [r for s, r in pairs if s == "x0,0"]
    c.expect(probe == ["OK"], "lldb probes x0,0 and gets OK", f"got {probe}")
    xs = [s for s, r in pairs if s.startswith("x") and s != "x0,0"]
    ms = [s for s, r in pairs if re.match(r"m[0-9a-f]+,", s)]
    c.expect(len(xs) >= 8 and not ms, "lldb reads memory with x only", f"x: {len(xs)}, m: {ms[:5]}")
    want = " ".join(f"0x{b:02x}" for b in SPECIAL + [0x2A] * 20)
    got = " ".join(re.findall(r"0x[0-9a-f]{2}\b", " ".join(
        line.split(":", 1)[1] for line in out.splitlines() if re.match(r"^0x400020[01][0-9a-f]:", line))))
    c.expect(got.startswith(want), "lldb reads back the escaped bytes it wrote", f"got {got}\nwant {want}")
    c.expect_re(r"^0x40002005: 0x4f 0x4b$", out, "a 2-byte read of \"OK\" is data, not a status")

    lb = open(lldb_dump, "rb").read() if os.path.exists(lldb_dump) else b""
    gb = open(gdb_dump, "rb").read() if os.path.exists(gdb_dump) else b""
    c.expect(len(lb) == SIZE, "lldb read 1 MiB", f"got {len(lb)} bytes\n{out[-2000:]}")
    poked = bytes(SPECIAL + [0x2A] * 20)
    gb = gb[:0x2000] + poked + gb[0x2000 + len(poked):]
    c.expect(lb == gb, "1 MiB read with x (lldb) equals the same read with m (gdb 13), but for lldb's write",
             f"first difference at {next((i for i in range(min(len(lb), len(gb))) if lb[i] != gb[i]), None)}")
    c.expect(all(b in lb for b in (b"#", b"$", b"}", b"*" * 20)), "the 1 MiB holds every escaped byte", "")
c.done()
