"""A minimal GDB remote stub for one question (docs/linux-guests.md, "Pointer
authentication"): what does gdb-multiarch do with the pauth_cmask of an
org.gnu.gdb.aarch64.pauth feature when it unwinds a signed return address,
for a kernel (bit 55 set) and a user (EL0) address? Not svedbg: a fixed
vCPU stopped in `leaf` (probe.S: paciasp, then x29/x30 saved, CFI with
.cfi_negate_ra_state), whose saved LR is `caller`+8 with a made-up PAC.

  stub.py KIND PAUTH CMASK PORT ELF   (KIND k|u, PAUTH 0|1, CMASK hex)

run-probe builds probe.S and runs gdb against each case.
"""
import socket, struct, subprocess, sys
kind, with_pauth, cmask, port, elf = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3], 16), int(sys.argv[4]), sys.argv[5]
text = subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", elf, "/dev/stdout"],
                      check=True, capture_output=True).stdout
base = 0xffff800008001000 if kind == "k" else 0x0000aaaaaaa01000
sp = 0xffff800009000000 if kind == "k" else 0x0000ffffff000000
signed = (0x1693800008001028 if kind == "k" else 0x0013aaaaaaa01028)
mem = {base: text, sp: struct.pack("<QQ", 0, signed)}
regs = [0] * 31 + [sp, base + 12]
regs[29] = sp
regs[30] = signed
cpsr = 0x3c5 if kind == "k" else 0x0
core = "".join(f'<reg name="x{n}" bitsize="64"/>' for n in range(29))
xml = ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>aarch64</architecture>'
       '<feature name="org.gnu.gdb.aarch64.core">' + core +
       '<reg name="x29" bitsize="64"/><reg name="x30" bitsize="64"/><reg name="sp" bitsize="64" type="data_ptr"/>'
       '<reg name="pc" bitsize="64" type="code_ptr"/><reg name="cpsr" bitsize="32"/></feature>'
       '<feature name="org.gnu.gdb.aarch64.fpu">' + "".join(f'<reg name="v{n}" bitsize="128" type="uint128"/>' for n in range(32)) +
       '<reg name="fpsr" bitsize="32"/><reg name="fpcr" bitsize="32"/></feature>')
if with_pauth:
    xml += ('<feature name="org.gnu.gdb.aarch64.pauth"><reg name="pauth_dmask" bitsize="64"/>'
            '<reg name="pauth_cmask" bitsize="64"/></feature>')
xml += "</target>"

def g():
    b = b"".join(struct.pack("<Q", r & (2**64 - 1)) for r in regs) + struct.pack("<I", cpsr) + bytes(32 * 16 + 8)
    if with_pauth:
        b += struct.pack("<QQ", cmask, cmask)
    return b.hex()

def read(addr, n):
    for start, data in mem.items():
        if start <= addr and addr + n <= start + len(data):
            return data[addr - start:addr - start + n].hex()
    return "E01"

def reply(p):
    if p.startswith("qSupported"): return "PacketSize=4000;qXfer:features:read+"
    if p.startswith("qXfer:features:read:target.xml:"):
        off, ln = (int(x, 16) for x in p.split(":")[-1].split(","))
        chunk = xml[off:off + ln]
        return ("m" if off + ln < len(xml) else "l") + chunk
    if p == "?": return "S05"
    if p == "g": return g()
    if p.startswith("m"):
        a, n = (int(x, 16) for x in p[1:].split(","))
        return read(a, n)
    if p.startswith("H"): return "OK"
    if p == "qAttached": return "1"
    if p == "qfThreadInfo": return "m1"
    if p == "qsThreadInfo": return "l"
    if p == "D": return "OK"
    return ""

s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen(1)
c, _ = s.accept()
buf = b""
while True:
    d = c.recv(65536)
    if not d: break
    buf += d
    while True:
        buf = buf.lstrip(b"+")
        if buf.startswith(b"\x03"): buf = buf[1:]; continue
        i = buf.find(b"$"); j = buf.find(b"#", i)
        if i < 0 or j < 0 or len(buf) < j + 3: break
        pkt = buf[i + 1:j].decode(); buf = buf[j + 3:]
        c.sendall(b"+")
        r = reply(pkt)
        c.sendall(f"${r}#{sum(r.encode()) % 256:02x}".encode())
        if pkt == "D": sys.exit(0)
