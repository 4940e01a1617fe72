#!/usr/bin/env python3
"""The gdb extension tools/gdb/svedbg-sve.py against `svedbg serve --sim`, in
real gdb-multiarch: `info sve`, `sve print`, $_sve_vl() and $_sve_lanes()
show each thread's lanes at its own effective VL, also after the guest
changes its VL (`monitor sim set-vl` + `stepi`). And `--tdesc-vl effective`
with gdb: served as max (gdb cannot resize a remote target's registers),
while gdb behind a proxy that hides its `qRelocInsn+` gets the per-thread
sizes and breaks as documented in docs/clients.md.
"""
import os
import select
import socket
import threading

from harness import *

EXT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", "tools", "gdb", "svedbg-sve.py"))
LEN = {2048: 15, 512: 3, 256: 1, 128: 0}


def lanes_of(raw, ebytes):
    return [int.from_bytes(bytes(raw[i:i + ebytes]), "little") for i in range(0, len(raw), ebytes)]


def pred_lanes(raw, ebytes, n):
    return [(raw[(i * ebytes) // 8] >> ((i * ebytes) % 8)) & 1 for i in range(n)]


def hex_lanes(values, ebytes):
    return "{" + ", ".join(f"{v:#0{2 * ebytes + 2}x}" for v in values) + "}"


def bits_lanes(values):
    return "{" + ", ".join(str(v) for v in values) + "}"


def after(out, tag):
    """The two lines `sve print` wrote after `echo TAG:`."""
    m = re.search(re.escape(tag) + r":\n(.*)\n(.*)$", out, re.M)
    return (m.group(1), m.group(2)) if m else (None, None)


def check_thread(c, out, t, cpu, bits, suffix=""):
    eff = bits // 8
    who = f'thread {t} "vCPU {cpu}"'
    z = z_bytes(cpu, 5, eff, eff)
    head, body = after(out, f"zd{t}{suffix}")
    c.expect(head == f"z5.d: {eff // 8} lanes of 64 bits at VL {bits} bits ({who})",
             f"thread {t}{suffix}: sve print z5 /d names {eff // 8} lanes at VL {bits}", f"got {head!r}")
    c.expect(body == hex_lanes(lanes_of(z, 8), 8), f"thread {t}{suffix}: z5 64-bit lanes follow the fixture",
             f"got {body}\nwant {hex_lanes(lanes_of(z, 8), 8)}")
    head, body = after(out, f"zb{t}{suffix}")
    c.expect(body == "{" + ", ".join(str(v) for v in z) + "}", f"thread {t}{suffix}: sve print/bu z5 bytes",
             f"got {body}")
    head, body = after(out, f"zq{t}{suffix}")
    c.expect(body == hex_lanes(lanes_of(z, 16), 16), f"thread {t}{suffix}: sve print z5 /q", f"got {body}")
    p = p_bytes(cpu, 3, eff, eff // 8)
    head, body = after(out, f"ps{t}{suffix}")
    c.expect(head == f"p3.s: {eff // 4} lanes of 32 bits (one predicate bit each) at VL {bits} bits ({who})",
             f"thread {t}{suffix}: sve print p3 /s header", f"got {head!r}")
    c.expect(body == bits_lanes(pred_lanes(p, 4, eff // 4)), f"thread {t}{suffix}: p3 predicate bits per lane",
             f"got {body}")
    head, body = after(out, f"ffr{t}{suffix}")
    c.expect(body == bits_lanes([1] * (eff // 2)), f"thread {t}{suffix}: ffr /h: every lane active", f"got {body}")
    c.expect(value_of(out, f"vl{t}{suffix}") == str(bits), f"thread {t}{suffix}: $_sve_vl() == {bits}",
             f"got {value_of(out, f'vl{t}{suffix}')}")
    c.expect(value_of(out, f"lanes{t}{suffix}") == str(eff // 4), f"thread {t}{suffix}: $_sve_lanes(\"z0\", \"s\")",
             f"got {value_of(out, f'lanes{t}{suffix}')}")


def thread_cmds(t, suffix=""):
    return [f"thread {t}",
            f"echo zd{t}{suffix}:\\n", "sve print z5 /d",
            f"echo zb{t}{suffix}:\\n", "sve print/bu z5",
            f"echo zq{t}{suffix}:\\n", "sve print $z5 /q",
            f"echo ps{t}{suffix}:\\n", "sve print p3 /s",
            f"echo ffr{t}{suffix}:\\n", "sve print ffr /h",
            f"echo vl{t}{suffix}:\\n", "p $_sve_vl()",
            f"echo lanes{t}{suffix}:\\n", 'p $_sve_lanes("z0", "s")']


def info_sve_row(t, cpu, bits, current):
    mark = r"\*" if current else " "
    return rf"^{mark}\s+{t}\s+{cpu}\s+128-2048\s+2048\s+{bits}\s+{LEN[bits]}$"


c = Checker("e2e gdb SVE extension")

# --- the extension, default (max) description --------------------------------
with Svedbg() as stub:
    c.expect(stub.connect_line.strip().endswith(f"; for SVE lanes at each vCPU's own VL: source {EXT}"),
             "the connect line names the extension's real path", stub.connect_line)
    cmds = [f"source {EXT}", "echo info-sve-1:\\n", "info sve",
            "echo vls-parsed:\\n",
            "python print(sorted((k, v['enabled'][0], v['enabled'][-1], len(v['enabled']), v['max']) "
            "for k, v in parse_monitor_vls(gdb.execute('monitor vls', to_string=True)).items()))",
            "echo bad-reg:\\n", "sve print x0", "echo bad-fmt:\\n", "sve print z0 /w"]
    for t in range(1, 5):
        cmds += thread_cmds(t)
    # vCPU 1 (thread 2) drops to VL 256, then steps: gdb sees it at the stop.
    cmds += ["thread 2", "monitor sim set-vl 1 256", "stepi"] + thread_cmds(2, "-after") + [
        "echo info-sve-2:\\n", "info sve", "echo zsize:\\n", "p sizeof($z0)"]
    out = run_gdb(stub, cmds)

    first = out.split("info-sve-1:\n", 1)[1]
    c.expect_in("gdb's register layout: Z 2048 bits, P/FFR 256 bits, for every thread", first,
                "info sve names gdb's fixed layout")
    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        c.expect_re(info_sve_row(t, t - 1, bits, t == 1), first, f"info sve row of thread {t} (VL {bits})")
    c.expect_in("[(0, 128, 2048, 16, 2048), (1, 128, 2048, 16, 2048), (2, 128, 2048, 16, 2048), "
                "(3, 128, 2048, 16, 2048)]", out,
                "the extension parses `monitor vls` (this fails when its format changes)")
    c.expect_re(r"bad-reg:\nsvedbg-sve: not an SVE register: 'x0'", out, "sve print refuses a non-SVE register")
    c.expect_re(r"bad-fmt:\nsvedbg-sve: element size must be one of b, h, s, d, q", out,
                "sve print refuses an unknown element size")
    for t, bits in enumerate(DEFAULT_EFFECTIVE_BITS, start=1):
        check_thread(c, out, t, t - 1, bits)
    check_thread(c, out, 2, 1, 256, "-after")
    second = out.split("info-sve-2:\n", 1)[1]
    c.expect_re(info_sve_row(2, 1, 256, True), second, "info sve: thread 2 at VL 256 (LEN 1) after set-vl + stepi")
    c.expect_re(info_sve_row(1, 0, 2048, False), second, "info sve: thread 1 unchanged")
    c.expect(value_of(out, "zsize") == "256", "gdb's own layout stays at 2048 bits", f"got {value_of(out, 'zsize')}")


# --- --tdesc-vl effective with gdb ---------------------------------------------
def hide_relocinsn_proxy(port):
    """Listens on an ephemeral port; forwards one client to 127.0.0.1:port with
    `qRelocInsn+;` taken out of its qSupported (checksum recomputed)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def pump():
        client, _ = lsock.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        pending, rewritten = b"", False
        while True:
            ready, _, _ = select.select([client, upstream], [], [], 60)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    client.close()
                    upstream.close()
                    return
                if s is upstream:
                    client.sendall(data)
                    continue
                if rewritten:
                    upstream.sendall(data)
                    continue
                pending += data
                m = re.search(rb"\$(qSupported:[^#]*)#..", pending)
                if m:
                    body = m.group(1).replace(b"qRelocInsn+;", b"")
                    framed = b"$" + body + b"#" + f"{sum(body) % 256:02x}".encode()
                    upstream.sendall(pending[:m.start()] + framed + pending[m.end():])
                    pending, rewritten = b"", True

    threading.Thread(target=pump, daemon=True).start()
    return lsock.getsockname()[1]


probe = ["thread 2", "echo vg:\\n", "p $vg", "echo zsize:\\n", "p sizeof($z0)", "echo z5:\\n", "p/x $z5.b.u[63]",
         "echo vls:\\n", "monitor vls"]
with Svedbg("--tdesc-vl", "effective") as stub:
    out = run_gdb(stub, probe)
    c.expect(value_of(out, "vg") == "8", "effective + gdb: thread 2's $vg", out)
    c.expect(value_of(out, "zsize") == "256", "effective + gdb: served the max layout (2048 bits)", out)
    c.expect(value_of(out, "z5") == hex(z_bytes(1, 5, 64, 64)[63]), "effective + gdb: thread 2's z5 reads", out)
    c.expect_in("note: --tdesc-vl effective is for lldb; this client is gdb (qSupported has qRelocInsn+)", out,
                "monitor vls says why gdb got the max description")
    c.expect("Truncated register" not in out, "effective + gdb: no truncated 'g' packet", out)

    port = hide_relocinsn_proxy(stub.port)
    args = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", f"target remote 127.0.0.1:{port}"]
    for cmd in probe:
        args += ["-ex", cmd]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90).stdout
    c.expect_re(r"Truncated register \d+ in remote 'g' packet", out,
                "gdb 13 without qRelocInsn+ gets per-thread sizes and cannot read thread 2 (docs/clients.md)")
    vls = out.split("vls:\n", 1)[-1]
    c.expect("target description: SVE" in vls and "note:" not in vls, "a client that is not gdb is not told so", out)
c.expect_in("--tdesc-vl effective is for lldb; this client is gdb (qSupported has qRelocInsn+)", stub.stderr,
            "the daemon logs why gdb got the max description")
c.done()
