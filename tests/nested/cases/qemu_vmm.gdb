# Case qemu_vmm: svedbg against a VMM nobody here wrote. QEMU's own gdbstub
# (inferior 1, stops the VM) and `svedbg serve --pid QEMU` (inferior 2) read
# the same stop of the same vCPU; every register both describe, Z0-31,
# P0-15, FFR and vg included, must be byte-for-byte the same (over the
# length both send), and match the state guest.inc documents for vl512.
# Then svedbg detaches and QEMU must work on: same registers, stepi and
# continue to a breakpoint through its stub, the guest running on.
#
# Order matters: while svedbg has QEMU's threads stopped (a client is
# connected to it), QEMU's stub cannot answer, so QEMU is read first.
#
# gdb 13 keeps "is packet X supported" global across connections: QEMU
# and svedbg announce different features (qXfer:threads:read, multiprocess,
# swbreak/hwbreak, QStartNoAckMode), and after the second connection gdb
# would use the first's answers on the other ("Protocol error:
# qXfer:threads:read (threads) conflicting enabled responses"). Off for both:
set remote threads-packet off
set remote multiprocess-feature-packet off
set remote swbreak-feature-packet off
set remote hwbreak-feature-packet off
set remote noack-packet off
# The nested VM is slow (TCG, loaded machine); gdb's 2 s would resend packets.
set remotetimeout 30

python
import os, re

QEMU = "127.0.0.1:" + os.environ["RUN_GUEST_PORT_1235"]
SVEDBG = "127.0.0.1:" + os.environ["RUN_GUEST_PORT_1234"]
CORE = ["x%d" % i for i in range(31)] + ["sp", "pc", "cpsr", "fpsr", "fpcr"]
Z = ["z%d" % i for i in range(32)]
P = ["p%d" % i for i in range(16)]
# svedbg's EL1 system registers; QEMU calls two of them by their AArch32
# names and does not describe midr_el1 and mpidr_el1.
SYSREGS = ["zcr_el1", "sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1", "mair_el1", "vbar_el1",
           "esr_el1", "far_el1", "elr_el1", "spsr_el1", "sp_el1", "midr_el1", "mpidr_el1"]
QEMU_NAME = {"sctlr_el1": "sctlr", "vbar_el1": "vbar"}
RAM, RAM_LEN = 0x40080000, 0x400   # the image and its data
VL = 64                            # bytes: vl512 sets ZCR_EL1.LEN = 3


def connect(addr):
    gdb.execute("target remote " + addr, to_string=True)


def remote_regs():
    """name (lower case) -> (remote number, gdb's size) from the target description."""
    regs = {}
    for line in gdb.execute("maint print remote-registers", to_string=True).splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[6].isdigit():
            regs.setdefault(f[0].lower(), (int(f[6]), int(f[4])))
    return regs


def read_p(num):
    """The bytes the stub sends for register NUM (a `p` packet); None on an error reply."""
    out = gdb.execute("maint packet p%x" % num, to_string=True)
    m = re.search(r'received: "([0-9a-fA-F]*)"', out)
    return bytes.fromhex(m.group(1)) if m and m.group(1) else None


def snapshot():
    regs = remote_regs()
    names = CORE + Z + P + ["ffr", "vg"] + SYSREGS + list(QEMU_NAME.values())
    values = {n: read_p(regs[n][0]) for n in names if n in regs}
    mem = bytes(gdb.selected_inferior().read_memory(RAM, RAM_LEN))
    return {"regs": regs, "values": values, "mem": mem}


def u64(b):
    return int.from_bytes(b[:8], "little")


def compare(label, q, s):
    """Prints one line per register group; returns the number of mismatches."""
    bad = 0
    for group, names in (("core", CORE), ("Z", Z), ("P", P), ("FFR", ["ffr"]), ("vg", ["vg"])):
        lens_q = sorted({len(q["values"][n]) for n in names if q["values"].get(n) is not None})
        lens_s = sorted({len(s["values"][n]) for n in names if s["values"].get(n) is not None})
        equal = 0
        for n in names:
            a, b = q["values"].get(n), s["values"].get(n)
            if a is None or b is None:
                print("%s: MISMATCH %s: qemu %s, svedbg %s" % (label, n, a and a.hex(), b and b.hex()))
                bad += 1
                continue
            common = min(len(a), len(b))
            if a[:common] == b[:common]:
                equal += 1
            else:
                print("%s: MISMATCH %s over %d bytes:\n  qemu   %s\n  svedbg %s" % (label, n, common, a.hex(), b.hex()))
                bad += 1
        print("%s: %s: %d of %d equal; qemu sends %s bytes, svedbg %s" %
              (label, group, equal, len(names), "/".join(map(str, lens_q)), "/".join(map(str, lens_s))))
    qv = {n: q["values"].get(QEMU_NAME.get(n, n)) for n in SYSREGS}
    both = [n for n in SYSREGS if qv[n] is not None and s["values"].get(n) is not None]
    diff = [n for n in both if qv[n] != s["values"][n]]
    for n in diff:
        print("%s: MISMATCH %s: qemu %#x, svedbg %#x" % (label, n, u64(qv[n]), u64(s["values"][n])))
    bad += len(diff)
    print("%s: system registers both describe: %d of %d equal (%s)" % (label, len(both) - len(diff), len(both), " ".join(both)))
    if q["mem"] == s["mem"]:
        print("%s: memory %#x+%#x equal" % (label, RAM, RAM_LEN))
    else:
        print("%s: MISMATCH memory %#x+%#x" % (label, RAM, RAM_LEN))
        bad += 1
    print("%s: mismatches: %d" % (label, bad))
    return bad


def check_documented(label, v):
    """guest.inc's state of vCPU 0 at VL 512 (64 bytes)."""
    z_ok = all(v["z%d" % n][:VL] == bytes((n + i) % 256 for i in range(VL)) and not any(v["z%d" % n][VL:])
               for n in range(32))
    def pred(lanes):
        lanes = min(lanes, VL)
        bits = (1 << lanes) - 1
        return bits.to_bytes(VL // 8, "little")
    p_ok = all(v["p%d" % n][:VL // 8] == pred(8 * n + 3) and not any(v["p%d" % n][VL // 8:]) for n in range(16))
    ffr_ok = v["ffr"][:VL // 8] == pred(27) and not any(v["ffr"][VL // 8:])
    x_ok = u64(v["x19"]) == 0 and u64(v["x21"]) == 0x5e00
    print("%s: documented state (guest.inc, VL 512): z %s, p %s, ffr %s, x19/x21 %s" %
          (label, *("ok" if ok else "WRONG" for ok in (z_ok, p_ok, ffr_ok, x_ok))))


# 1. QEMU's stub first: it stops the VM.
connect(QEMU)
q1 = snapshot()
r = q1["regs"]
print("qemu: target description: z %d bytes, p %d, ffr %d, vg %d (gdb's sizes)" %
      (r["z0"][1], r["p0"][1], r["ffr"][1], r["vg"][1]))
print("qemu: vg = %d" % u64(q1["values"]["vg"]))

# 2. svedbg on the same QEMU process, same stop.
gdb.execute("add-inferior -no-connection", to_string=True)
gdb.execute("inferior 2", to_string=True)
connect(SVEDBG)
s1 = snapshot()
r = s1["regs"]
print("svedbg: target description: z %d bytes, p %d, ffr %d, vg %d (gdb's sizes)" %
      (r["z0"][1], r["p0"][1], r["ffr"][1], r["vg"][1]))
print("svedbg: vg = %d" % u64(s1["values"]["vg"]))
compare("stop 1", q1, s1)
check_documented("stop 1", s1["values"])
end
monitor vls
python
# Not `info threads`: it asks every connection, and QEMU is stopped by svedbg.
out = gdb.execute("maint packet qThreadExtraInfo,1", to_string=True)
print("svedbg: thread 1: %s" % bytes.fromhex(re.search(r'received: "([0-9a-fA-F]*)"', out).group(1)).decode())
# How svedbg read QEMU's registers: batched, the loop in a code cave of
# QEMU or one of its libraries (kvm/attach/code_cave.hpp).
for line in gdb.execute("monitor attach", to_string=True).splitlines():
    if line.startswith(("batched register reads", "register reads in this stop")):
        print("svedbg: " + line)
end
detach

python
# 3. svedbg gone: QEMU's stub sees the same state and still steps and runs.
gdb.execute("inferior 1", to_string=True)
q2 = snapshot()
same = q2["values"] == q1["values"] and q2["mem"] == q1["mem"]
print("qemu after svedbg detached: registers and memory unchanged: %s" % ("yes" if same else "NO"))
pc0, x20 = u64(q2["values"]["pc"]), u64(q2["values"]["x20"])
insn = int.from_bytes(bytes(gdb.selected_inferior().read_memory(pc0, 4)), "little")
gdb.execute("stepi", to_string=True)
pc1 = int(gdb.parse_and_eval("$pc")) & (2**64 - 1)
x20_1 = int(gdb.parse_and_eval("$x20")) & (2**64 - 1)
if insn == 0x91000694:   # add x20, x20, #1
    ok = pc1 == pc0 + 4 and x20_1 == x20 + 1
    what = "add x20: pc +4, x20 +1"
else:                    # the loop's closing branch
    ok = pc1 < pc0 and x20_1 == x20
    what = "branch back, x20 unchanged"
print("qemu stepi: %s (%s)" % ("ok" if ok else "WRONG", what))
# continue to a breakpoint (a Z0 through QEMU) on the loop's second instruction:
# the loop is 64 `add x20` closed by `b` back to its start
code = bytes(gdb.selected_inferior().read_memory(pc1, 4 * 70))
words = [int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4)]
k = next(i for i, w in enumerate(words) if w != 0x91000694)
imm = words[k] & 0x3ffffff
imm -= (imm & (1 << 25)) << 1
bp = pc1 + 4 * k + 4 * imm + 4
gdb.execute("break *%#x" % bp, to_string=True)
gdb.execute("continue", to_string=True)
pc2 = int(gdb.parse_and_eval("$pc")) & (2**64 - 1)
x20_2 = int(gdb.parse_and_eval("$x20")) & (2**64 - 1)
gdb.execute("delete", to_string=True)
print("qemu continue to a breakpoint: %s (x20 +%d)" % ("ok" if pc2 == bp and x20_2 > x20_1 else "WRONG pc %#x" % pc2, x20_2 - x20_1))
gdb.execute("detach", to_string=True)   # the VM runs on
gdb.execute("shell sleep 1")

# 4. Again at a later stop: QEMU first, then svedbg.
connect(QEMU)
q3 = snapshot()
ran = u64(q3["values"]["x20"]) - x20_2
print("qemu after its own detach: the guest ran on: %s" % ("yes" if ran > 0 else "NO (x20 +%d)" % ran))
gdb.execute("inferior 2", to_string=True)
connect(SVEDBG)
s3 = snapshot()
compare("stop 2", q3, s3)
check_documented("stop 2", s3["values"])
gdb.execute("detach", to_string=True)
gdb.execute("inferior 1", to_string=True)
gdb.execute("detach", to_string=True)
gdb.execute("shell sleep 1")
connect(QEMU)
x20_4 = int(gdb.parse_and_eval("$x20")) & (2**64 - 1)
print("qemu after both detached: the guest ran on: %s" % ("yes" if x20_4 > u64(q3["values"]["x20"]) else "NO"))
gdb.execute("detach", to_string=True)
end
