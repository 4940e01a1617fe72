#!/usr/bin/env python3
"""`svedbg dump` and `svedbg serve --core` against real gdb-multiarch.

The simulated guest is dumped to an ELF core; gdb-multiarch opens it (`-c`)
and, through `svedbg serve --core`, over the remote protocol; every register
of every thread and a RAM range must read exactly as in a live session of
the same fixture. The JSON dump is validated against docs/dump-schema.json
and compared with the live session too, and the NT_ARM_SVE shapes gdb 13
misreads are pinned down (docs/dumps.md).
"""
import json
import os
import re
import stat
import subprocess
import tempfile

from harness import *

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "dump-schema.json")
REGS = ([f"x{n}" for n in range(31)] + ["sp", "pc", "cpsr", "fpsr", "fpcr", "vg", "ffr"]
        + [f"z{n}.b.u" for n in range(32)] + [f"p{n}" for n in range(16)])
SYSREGS = ["zcr_el1", "sctlr_el1", "midr_el1", "mpidr_el1", "ttbr0_el1"]
THREADS = 4


def reg_commands(regs):
    cmds = []
    for t in range(1, THREADS + 1):
        cmds.append(f"thread {t}")
        for r in regs:
            cmds += [f"echo T{t}.{r}:\\n", f"p/x ${r}"]
    return cmds + ["echo MEM:\\n", "x/16xb 0x40000000", "x/32xb 0x400ff000", "echo END:\\n"]


def values(output, regs):
    return {(t, r): value_of(output, f"T{t}.{r}") for t in range(1, THREADS + 1) for r in regs}


def memory_text(output):
    m = re.search(r"^MEM:\n(.*?)^END:", output, re.M | re.S)
    return m.group(1) if m else None


def dump(*args):
    p = subprocess.run([SVEDBG, "dump", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise AssertionError(f"svedbg dump {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def gdb_core(path, commands, check=True):
    return run_gdb(None, [f"core-file {path}"] + commands, connect=False, check=check)


c = Checker("e2e dump")
with tempfile.TemporaryDirectory() as tmp:
    core = os.path.join(tmp, "dump.elf")
    dump("--sim", "--format", "elf", "--memory", "-o", core)
    c.expect(oct(os.stat(core).st_mode & 0o777) == "0o600", "the core file is created 0600 (guest state)")

    with Svedbg() as stub:
        live = run_gdb(stub, reg_commands(REGS + SYSREGS))
    want = values(live, REGS + SYSREGS)
    c.expect(all(v is not None for v in want.values()), "the live session shows every register",
             str([k for k, v in want.items() if v is None][:5]))
    c.expect(want[(2, "vg")] == "0x8" and want[(3, "vg")] == "0x2", "live: threads report their own VL",
             f"{want[(2, 'vg')]} {want[(3, 'vg')]}")

    # 1. gdb-multiarch -c on the ELF core.
    out = gdb_core(core, ["info threads"] + reg_commands(REGS))
    for t in range(1, THREADS + 1):
        c.expect_re(rf"^[* ]\s+{t}\s+LWP {t}\s", out, f"gdb -c: thread {t} is LWP {t} (pr_pid = vCPU + 1)")
    got = values(out, REGS)
    bad = [f"thread {t} ${r}: core {got[(t, r)]} live {want[(t, r)]}" for (t, r) in got if got[(t, r)] != want[(t, r)]]
    c.expect(not bad, f"gdb -c: all {len(got)} registers of {THREADS} threads equal the live session",
             "\n".join(bad[:10]))
    c.expect(memory_text(out) == memory_text(live) and memory_text(out), "gdb -c: RAM reads as live",
             f"core:\n{memory_text(out)}\nlive:\n{memory_text(live)}")
    nomem = os.path.join(tmp, "nomem.elf")
    dump("--sim", "--format", "elf", "-o", nomem)
    c.expect_in("Cannot access memory at address 0x40000000", gdb_core(nomem, ["x/4xb 0x40000000"], check=False),
                "without --memory the core has no RAM")

    # 2. The same file served by `svedbg serve --core`.
    with CoreStub(core) as stub:
        c.expect_in("written by svedbg (read-only", stub.banner, "serve --core names the file and read-only")
        out = run_gdb(stub, reg_commands(REGS + SYSREGS) + ["set $x0 = 5", "echo X0:\\n", "p/x $x0", "continue"])
    got = values(out, REGS + SYSREGS)
    bad = [f"thread {t} ${r}: served {got[(t, r)]} live {want[(t, r)]}" for (t, r) in got if got[(t, r)] != want[(t, r)]]
    c.expect(not bad, f"serve --core: all {len(got)} registers (system registers too) equal the live session",
             "\n".join(bad[:10]))
    c.expect(memory_text(out) == memory_text(live), "serve --core: RAM reads as live")
    c.expect_re(r'Could not write register "x0"', out, "serve --core: registers are read-only")
    c.expect(value_of(out, "X0") == want[(THREADS, "x0")], "serve --core: a refused write changes nothing")
    c.expect_re(r"Remote failure reply: E\.the core target cannot run", out,
                "serve --core: continue is refused, and gdb prints why")
    # A client that hangs up without `D`: nothing was running or resumed.
    with CoreStub(core) as stub:
        s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
        s.sendall(raw_packet("?"))
        s.recv(64)
        s.close()
        stub.wait_clients_done(1)
    c.expect_re(r"client 127\.0\.0\.1:\d+ dropped; nothing to resume \(the target never runs\)$", stub.stderr,
                "serve --core: a dropped client is not logged as resuming anything")

    # 3. JSON: schema, and the same values as the live session.
    text = dump("--sim", "--format", "json", "--memory", "-o", "-")
    doc = json.loads(text)
    try:
        import jsonschema
        jsonschema.validate(doc, json.load(open(SCHEMA)), cls=jsonschema.Draft202012Validator)
        c.expect(True, "JSON dump validates against docs/dump-schema.json")
        broken = json.loads(text)
        broken["vcpus"][0]["z"][0] = "xyz"
        try:
            jsonschema.validate(broken, json.load(open(SCHEMA)), cls=jsonschema.Draft202012Validator)
            c.expect(False, "the schema rejects a malformed Z register")
        except jsonschema.ValidationError:
            c.expect(True, "the schema rejects a malformed Z register")
    except ImportError:
        c.expect(False, "python3-jsonschema is installed (tools/install-deps)")
    except jsonschema.ValidationError as e:
        c.expect(False, "JSON dump validates against docs/dump-schema.json", str(e)[:2000])

    def gdb_bytes(v):
        """'{0x1, 0x0 <repeats 192 times>}' -> [1, 0, ...]"""
        out = []
        for item in v.strip("{}").split(", "):
            m = re.match(r"(0x[0-9a-f]+|\d+)(?: <repeats (\d+) times>)?$", item)
            out += [int(m.group(1), 0)] * int(m.group(2) or 1)
        return out

    bad = []
    for t in range(1, THREADS + 1):
        v = doc["vcpus"][t - 1]
        def cmp(what, mine, theirs):
            if mine != theirs:
                bad.append(f"thread {t} {what}: json {mine} live {theirs}")
        cmp("vg", hex(v["effective_vl"] // 64), want[(t, "vg")])
        for n in range(31):
            cmp(f"x{n}", v["core"][f"x{n}"], want[(t, f"x{n}")])
        cmp("sp", v["core"]["sp"], want[(t, "sp")])
        cmp("pc", v["core"]["pc"], want[(t, "pc")])
        cmp("pstate", v["core"]["pstate"], want[(t, "cpsr")])
        cmp("fpsr", v["fpsr"], want[(t, "fpsr")])
        for r in SYSREGS:
            cmp(r, v["sysregs"][r], want[(t, r)])
        for n in range(32):
            z = list(bytes.fromhex(v["z"][n]))
            cmp(f"z{n}", z + [0] * (256 - len(z)), gdb_bytes(want[(t, f"z{n}.b.u")]))
        for n in range(16):
            p = list(bytes.fromhex(v["p"][n]))
            cmp(f"p{n}", p + [0] * (32 - len(p)), gdb_bytes(want[(t, f"p{n}")]))
        f = list(bytes.fromhex(v["ffr"]))
        cmp("ffr", f + [0] * (32 - len(f)), gdb_bytes(want[(t, "ffr")]))
    c.expect(not bad, "JSON: every register of every vCPU equals the live session", "\n".join(bad[:10]))
    mem = doc["memory"][0]
    c.expect(mem["gpa"] == "0x40000000" and mem["size"] == 1 << 20, "JSON: the RAM range", str(mem)[:100])
    live_mem = [int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})\b", memory_text(live))]
    ram = bytes.fromhex(mem["data"])
    c.expect(live_mem == list(ram[:16]) + list(ram[0xff000:0xff020]), "JSON: RAM bytes equal the live session")

    # JSON round trip through the core file: the same document but for "source".
    back = json.loads(dump("--core", core, "--format", "json", "--memory", "-o", "-"))
    c.expect(back["source"]["kind"] == "core", "JSON of a core file says so")
    c.expect(back["vcpus"] == doc["vcpus"], "JSON of the ELF core equals JSON of the live sim (every vCPU)")
    c.expect(back["memory"] == doc["memory"], "JSON of the ELF core carries the same RAM")

    # 4. gdb 13 and NT_ARM_SVE notes of different lengths (docs/dumps.md).
    probe = ["thread 2", "echo T2.vg:\\n", "p/x $vg", "echo T2.z5:\\n", "p/x $z5.b.u",
             "thread 3", "echo T3.z5:\\n", "p/x $z5.b.u"]
    uniform = os.path.join(tmp, "uniform.elf")
    dump("--sim", "--format", "elf", "--sve-notes", "uniform", "-o", uniform)
    out = gdb_core(uniform, probe)
    c.expect(value_of(out, "T2.vg") == "0x20", "uniform notes: gdb 13 reports the largest VL as $vg",
             value_of(out, "T2.vg"))
    c.expect(value_of(out, "T2.z5") == want[(2, "z5.b.u")], "uniform notes: Z registers still read correctly")
    effective = os.path.join(tmp, "effective.elf")
    dump("--sim", "--format", "elf", "--sve-notes", "effective", "-o", effective)
    out = gdb_core(effective, probe)
    c.expect(value_of(out, "T2.vg") == "0x8", "effective notes: $vg is the thread's own VL")
    misread = value_of(out, "T2.z5")
    c.expect(misread is not None and misread.startswith("{") and misread != want[(2, "z5.b.u")],
             "effective notes: gdb 13 lays a shorter note out at the first thread's VL (z5 misread: shown, "
             "but not the thread's value)", f"{misread}\n{out}")
    c.expect(value_of(out, "T3.z5") == "<unavailable>",
             "effective notes: a note too short for the first thread's VL leaves the registers unavailable",
             value_of(out, "T3.z5"))
    # svedbg itself reads every shape back correctly.
    for path in (uniform, effective):
        c.expect(json.loads(dump("--core", path, "--format", "json", "-o", "-"))["vcpus"] == doc["vcpus"],
                 f"svedbg reads {os.path.basename(path)} back exactly")

    # 5. Output to an existing device or FIFO goes into the node itself (a
    # rename over it would replace it), through a temporary file for ELF,
    # which libelf writes with seeks.
    import threading
    with tempfile.TemporaryDirectory() as fdir:
        fifo = os.path.join(fdir, "fifo")
        os.mkfifo(fifo)
        got = {}
        reader = threading.Thread(target=lambda: got.setdefault("text", open(fifo).read()))
        reader.start()
        dump("--sim", "--format", "json", "--memory", "-o", fifo)
        reader.join(30)
        c.expect(json.loads(got.get("text", "null")) == doc, "a JSON dump into a FIFO reaches its reader whole")
        c.expect(stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(fdir) == ["fifo"],
                 "the FIFO is still a FIFO and no temporary file is left", os.listdir(fdir))
        got = {}
        reader = threading.Thread(target=lambda: got.setdefault("elf", open(fifo, "rb").read()))
        reader.start()
        dump("--sim", "--format", "elf", "--memory", "-o", fifo)
        reader.join(30)
        regular = os.path.join(fdir, "regular.elf")
        dump("--sim", "--format", "elf", "--memory", "-o", regular)
        c.expect(got.get("elf") == open(regular, "rb").read(),
                 "an ELF core into a FIFO (written in $TMPDIR, then copied) equals the one in a regular file")
        c.expect(sorted(os.listdir(fdir)) == ["fifo", "regular.elf"], "no temporary file is left", os.listdir(fdir))

    # 6. A progress line on a terminal for guests of 64 MiB and more (stderr
    # is a pty here), none when stderr is not a terminal.
    import pty
    big = os.path.join(tmp, "big.elf")
    master, slave = pty.openpty()
    p = subprocess.Popen([SVEDBG, "dump", "--sim", "--sim-mem", "64", "--format", "elf", "--memory", "-o", big],
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the child closed the pty
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    p.wait(timeout=120)
    tty = tty.decode(errors="replace")
    c.expect(p.returncode == 0, "dump of a 64 MiB simulated guest", tty)
    c.expect_re(r"svedbg: writing guest RAM: 100% \(64 of 64 MiB\)", tty, "progress on a terminal reaches 100%")
    c.expect(tty.count("\r") >= 10, "the progress line is redrawn in place (\\r) as RAM is written", repr(tty[:200]))
    c.expect(os.path.getsize(big) > 64 << 20, "the 64 MiB core holds the RAM", os.path.getsize(big))
    p = subprocess.run([SVEDBG, "dump", "--sim", "--sim-mem", "64", "--format", "elf", "--memory", "-o", big],
                       capture_output=True, text=True)
    c.expect(p.returncode == 0 and "writing guest RAM" not in p.stderr, "no progress line when stderr is not a terminal",
             p.stderr)
    os.unlink(big)

    # 7. Refusals.
    p = subprocess.run([SVEDBG, "dump", "--pid", "1", "--format", "json", "-o", "-"], capture_output=True, text=True)
    c.expect(p.returncode == 1 and "--pid" in p.stderr and "needs an arm64 build" in p.stderr,
             "dump --pid on an x86 build is refused with a clear message", p.stderr)
    p = subprocess.run([SVEDBG, "serve", "--core", "/nonexistent.core"], capture_output=True, text=True)
    c.expect(p.returncode == 1 and "cannot open /nonexistent.core" in p.stderr, "serve --core names a missing file",
             p.stderr)
c.done()
