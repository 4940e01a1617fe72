#!/usr/bin/env python3
"""What inspecting one vCPU costs the others: non-stop against all-stop.

    bench/nonstop_pause.py [--svedbg build/tools/svedbg] [--reps N] [--gap-ms MS]
    bench/nonstop_pause.py --connect PORT [--counter N] ...

--connect PORT measures a stub already listening on 127.0.0.1:PORT instead
(a new connection per run; e.g. `svedbg serve --pid` on a nested VM's
svedbg-vmm, whose guest counts in x20: --counter 20), with its guest as it
is (no loop patched in).

Runs `svedbg serve --sim` (4 vCPUs counting in x0: the fixture's NOPs, with
the final `b .` turned into a branch back to the first NOP) and speaks the
remote protocol itself, as gdb would, with no-ack mode. One inspection is
what a user does to look at vCPU 1 (thread 2): stop it, read its `g` block,
let it go.

  all-stop: 0x03 (every vCPU stops), Hg2, g, c
  non-stop: vCont;t:2, vStopped, Hg2, g, vCont;c:2 (the others never stop)

Each mode does N inspections, GAP ms apart, and prints the inspection's
duration (median, min..max: in all-stop every vCPU is paused that long) and
how far vCPU 0 got meanwhile (its x0, read once before and once after the
run: instructions per second of wall time). The ratio of vCPU 0's progress,
non-stop over all-stop, is what the others gain. This is a benchmark, not a
test: ctest does not run it."""
import argparse
import os
import re
import socket
import statistics
import subprocess
import time

LOOP = "M40000ffc,4:01fcff17"  # b 0x40000000 in place of `b .`


def frame(payload):
    return f"${payload}#{sum(payload.encode()) % 256:02x}".encode()


def rle_decode(raw):
    """Undoes '*' run-length encoding (GDB manual, "Overview")."""
    out = []
    i = 0
    while i < len(raw):
        if raw[i] == "*":
            out.append(out[-1][-1] * (ord(raw[i + 1]) - 29))
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


class Rsp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.s.sendall(frame("QStartNoAckMode"))
        assert self.read() == "OK"
        self.s.sendall(b"+")

    def read(self, kind=b"$"):
        """The next packet (or notification, kind b'%') payload; skips acks."""
        while True:
            m = re.search(re.escape(kind) + rb"([^#]*)#..", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return rle_decode(m.group(1).decode())
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("svedbg closed the connection")
            self.buf += chunk

    def ask(self, payload):
        self.s.sendall(frame(payload))
        return self.read()

    counter = 0  # the register that counts (x0 on the sim)

    def x0(self, thread):
        assert self.ask(f"Hg{thread}") == "OK"
        return int.from_bytes(bytes.fromhex(self.ask(f"p{self.counter:x}")), "little")


def run(svedbg, mode, reps, gap, connect=None, counter=0):
    p = None
    if not connect:
        p = subprocess.Popen([svedbg, "serve", "--sim", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        port = connect or int(re.search(r":(\d+)$", p.stdout.readline().strip()).group(1))
        c = Rsp(port)
        c.counter = counter
        if not connect:
            assert c.ask(LOOP) == "OK"
        if mode == "non-stop":
            assert c.ask("QNonStop:1") == "OK"
            c.ask("?")
            while c.ask("vStopped") != "OK":
                pass
            assert c.ask("vCont;c") == "OK"
            assert c.ask("vCont;t:1") == "OK"
            c.read(b"%")
            assert c.ask("vStopped") == "OK"
            x_start = c.x0(1)
            assert c.ask("vCont;c:1") == "OK"
        else:
            x_start = c.x0(1)
            c.s.sendall(frame("c"))
        t_start = time.monotonic()
        windows = []
        for _ in range(reps):
            time.sleep(gap)
            t0 = time.perf_counter()
            if mode == "non-stop":
                assert c.ask("vCont;t:2") == "OK"
                assert c.read(b"%").startswith("Stop:T00thread:2;")
                assert c.ask("vStopped") == "OK"
                assert c.ask("Hg2") == "OK"
                c.ask("g")
                assert c.ask("vCont;c:2") == "OK"
            else:
                c.s.sendall(b"\x03")
                assert c.read().startswith("T02")
                assert c.ask("Hg2") == "OK"
                c.ask("g")
                c.s.sendall(frame("c"))
            windows.append(time.perf_counter() - t0)
        elapsed = time.monotonic() - t_start
        if mode == "non-stop":
            assert c.ask("vCont;t:1") == "OK"
            c.read(b"%")
            assert c.ask("vStopped") == "OK"
        else:
            c.s.sendall(b"\x03")
            c.read()
        x_end = c.x0(1)
        c.s.sendall(frame("D"))
        if connect:
            c.read()  # D's OK: the stub has let the guest go before the next run connects
            c.s.close()
        return windows, (x_end - x_start) / elapsed
    finally:
        if p:
            p.terminate()
            p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svedbg", default=os.path.join("build", "tools", "svedbg"))
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gap-ms", type=float, default=5.0)
    ap.add_argument("--connect", type=int, help="a stub already listening on this 127.0.0.1 port")
    ap.add_argument("--counter", type=int, default=0, help="the register number that counts (x0: 0)")
    a = ap.parse_args()
    windows = {"all-stop": [], "non-stop": []}
    ratios = []
    for r in range(a.rounds):
        # Alternate which mode goes first, so drift in the machine's speed
        # (the sim's one thread shares it) affects both.
        order = ("all-stop", "non-stop") if r % 2 == 0 else ("non-stop", "all-stop")
        rate = {}
        for mode in order:
            w, rate[mode] = run(a.svedbg, mode, a.reps, a.gap_ms / 1000, a.connect, a.counter)
            windows[mode] += w
        ratios.append(rate["non-stop"] / rate["all-stop"] if rate["all-stop"] else float("nan"))
        print(f"round {r + 1}: vCPU 0 ran {rate['all-stop'] / 1e6:.2f} M insn/s (all-stop), "
              f"{rate['non-stop'] / 1e6:.2f} M insn/s (non-stop)")
    for mode, w in windows.items():
        us = sorted(x * 1e6 for x in w)
        others = "every vCPU paused as long" if mode == "all-stop" else "the other vCPUs never paused"
        print(f"{mode:9}: one inspection of vCPU 1 takes {statistics.median(us):.0f} us median "
              f"({us[0]:.0f}..{us[-1]:.0f}); {others}")
    print(f"vCPU 0's progress during {a.reps} inspections {a.gap_ms:g} ms apart, non-stop / all-stop: "
          f"{statistics.median(ratios):.2f}x median of {a.rounds} rounds ({min(ratios):.2f}..{max(ratios):.2f})")


if __name__ == "__main__":
    main()
