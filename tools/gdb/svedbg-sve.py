"""svedbg's gdb extension: SVE registers at each vCPU's own vector length.

Load it in gdb-multiarch (13.1 and later) connected to `svedbg serve`:

    (gdb) source tools/gdb/svedbg-sve.py

gdb lays out Z/P/FFR once, at the description's VL (by default the largest
VL any vCPU has enabled), for every thread and for the whole session: no gdb
release through 17 resizes a remote target's registers when a thread's VL
differs or changes. `$vg` does tell the current thread's effective VL at
every stop, and bytes above it read as zero. This extension uses `$vg` to
show exactly the lanes below that VL:

  info sve                    every vCPU: enabled VLs, max VL (from `monitor
                              vls`), effective VL ($vg), ZCR_EL1.LEN
                              ($zcr_el1)
  sve print REG [/FMT]        z0..z31, p0..p15 or ffr of the current thread,
                              one lane per element below its effective VL.
                              FMT: element size b, h, s, d (default) or q
                              (8..128 bits), then x (hex, default) or u
                              (unsigned decimal) for Z; a P/FFR lane is the
                              predicate bit that governs that element (0/1).
  $_sve_vl()                  the current thread's effective VL in bits
  $_sve_lanes("z0", "s")      lanes of that element size at that VL

Everything is read through gdb's registers of the current thread (newest
frame), so it is right after `monitor sim set-vl`, a `stepi` or a guest's own
ZCR_EL1 write, at every stop.
"""
import re

import gdb

ELEMENT_BYTES = {"b": 1, "h": 2, "s": 4, "d": 8, "q": 16}
_REG_RE = re.compile(r"^\$?(z([0-9]|[12][0-9]|3[01])|p([0-9]|1[0-5])|ffr)$")

# `monitor vls`, as svedbg prints it (introspect/guest_monitor.cpp):
#   target description: SVE, VL 2048 bits (--tdesc-vl max)
#   note: ...                                  (only when there is one)
#   vCPU 0: enabled VLs 128-2048 bits; max 2048 bits; effective VL 2048 bits (ZCR_EL1.LEN=15)
#   vCPU 1: no SVE [(why)]
#   vCPU 2: enabled VLs ...; max ... bits; effective VL unknown: why
_VLS_HEAD_RE = re.compile(r"^target description: ")
_VLS_NOTE_RE = re.compile(r"^note: ")
_VLS_CPU_RE = re.compile(r"^vCPU (\d+): (?:no SVE(?: \(.*\))?|enabled VLs ([0-9,-]+) bits; max (\d+) bits; "
                         r"(?:effective VL (\d+) bits \(ZCR_EL1\.LEN=(\d+)\)|effective VL unknown: .*))$")


class VlsFormatError(gdb.GdbError):
    """`monitor vls` printed a line this extension does not know."""


def parse_bits_list(text):
    """'128-512,1024' -> [128, 256, 384, 512, 1024] (ranges step by 128)."""
    out = []
    for item in text.split(","):
        lo, _, hi = item.partition("-")
        lo = int(lo)
        hi = int(hi) if hi else lo
        out.extend(range(lo, hi + 1, 128))
    return out


def parse_monitor_vls(text):
    """{vCPU index: {"enabled": [bits...] or None, "max": bits or None}}; raises VlsFormatError."""
    cpus = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not _VLS_HEAD_RE.match(lines[0]):
        raise VlsFormatError(f"svedbg-sve: unexpected `monitor vls` output: {text!r}")
    for line in lines[1:]:
        if _VLS_NOTE_RE.match(line):
            continue
        m = _VLS_CPU_RE.match(line)
        if not m:
            raise VlsFormatError(f"svedbg-sve: unexpected `monitor vls` line: {line!r}")
        enabled = parse_bits_list(m.group(2)) if m.group(2) else None
        cpus[int(m.group(1))] = {"enabled": enabled, "max": int(m.group(3)) if m.group(3) else None}
    return cpus


def format_bits_list(bits):
    """[128, 256, 384, 512, 1024] -> '128-512,1024' (as svedbg prints VLs)."""
    out = []
    i = 0
    while i < len(bits):
        j = i
        while j + 1 < len(bits) and bits[j + 1] == bits[j] + 128:
            j += 1
        out.append(f"{bits[i]}-{bits[j]}" if j - i >= 2 else ",".join(str(b) for b in bits[i:j + 1]))
        i = j + 1
    return ",".join(out)


def _frame():
    if gdb.selected_thread() is None:
        raise gdb.GdbError("svedbg-sve: no thread selected (connect with `target remote` first)")
    return gdb.newest_frame()


def read_reg(name):
    try:
        return _frame().read_register(name)
    except ValueError:
        raise gdb.GdbError(f"svedbg-sve: the target has no register {name} (no SVE in its description?)")


def vl_bits():
    """The current thread's effective VL in bits: $vg counts 64-bit granules."""
    return int(read_reg("vg")) * 64


def element_bytes(letter):
    if letter not in ELEMENT_BYTES:
        raise gdb.GdbError(f"svedbg-sve: element size must be one of b, h, s, d, q, not {letter!r}")
    return ELEMENT_BYTES[letter]


def register_name(text):
    m = _REG_RE.match(text.strip().lower())
    if not m:
        raise gdb.GdbError(f"svedbg-sve: not an SVE register: {text!r} (z0..z31, p0..p15, ffr)")
    return m.group(1)


def lane_count(reg, ebytes, vl):
    register_name(reg)
    return vl // 8 // ebytes


def register_bytes(reg, nbytes):
    """The first nbytes of REG, byte 0 first (Z: a union with .b.u; P/FFR: a uint8 vector)."""
    v = read_reg(reg)
    if reg.startswith("z"):
        v = v["b"]["u"]
    return [int(v[i]) for i in range(nbytes)]


def lanes(reg, ebytes, vl):
    """REG's lanes of ebytes each below VL: Z lanes are little-endian values,
    P/FFR lanes the predicate bit of each element (bit ebytes*i)."""
    n = vl // 8 // ebytes
    if reg.startswith("z"):
        raw = register_bytes(reg, vl // 8)
        return [int.from_bytes(bytes(raw[i * ebytes:(i + 1) * ebytes]), "little") for i in range(n)]
    raw = register_bytes(reg, vl // 64)
    return [(raw[(i * ebytes) // 8] >> ((i * ebytes) % 8)) & 1 for i in range(n)]


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def thread_label(t):
    return f'thread {t.num} "{t.name}"' if t.name else f"thread {t.num}"


class SvePrefix(gdb.Command):
    """SVE registers at the current thread's effective vector length (svedbg)."""

    def __init__(self):
        super().__init__("sve", gdb.COMMAND_DATA, prefix=True)


class SvePrint(gdb.Command):
    """Print an SVE register's lanes below the current thread's effective VL.

Usage: sve print REG [/FMT]   (or sve print/FMT REG)
REG: z0..z31, p0..p15, ffr.  FMT: element size b, h, s, d (default) or q,
optionally followed by x (hex, default) or u (unsigned decimal).
A P or FFR lane is the predicate bit governing that element (0 or 1)."""

    def __init__(self):
        super().__init__("sve print", gdb.COMMAND_DATA, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        reg, fmt = None, "d"
        for word in arg.replace("/", " /").split():
            if word.startswith("/"):
                fmt = word[1:]
            elif reg is None:
                reg = register_name(word)
            else:
                raise gdb.GdbError("usage: sve print REG [/FMT]")
        if reg is None:
            raise gdb.GdbError("usage: sve print REG [/FMT]")
        if not fmt or len(fmt) > 2 or (len(fmt) == 2 and fmt[1] not in "xu"):
            raise gdb.GdbError(f"svedbg-sve: FMT is an element size (b h s d q) then x or u, not /{fmt}")
        ebytes = element_bytes(fmt[0])
        vl = vl_bits()
        values = lanes(reg, ebytes, vl)
        if reg.startswith("z"):
            width = 2 * ebytes
            text = [f"{v:#0{width + 2}x}" if fmt[1:] != "u" else str(v) for v in values]
            what = f"{plural(len(values), 'lane')} of {8 * ebytes} bits"
        else:
            text = [str(v) for v in values]
            what = f"{plural(len(values), 'lane')} of {8 * ebytes} bits (one predicate bit each)"
        gdb.write(f"{reg}.{fmt[0]}: {what} at VL {vl} bits ({thread_label(gdb.selected_thread())})\n")
        gdb.write("{" + ", ".join(text) + "}\n")


class InfoSve(gdb.Command):
    """Every vCPU's vector lengths: enabled and max (from `monitor vls`),
effective ($vg of each thread) and ZCR_EL1.LEN ($zcr_el1 of each thread)."""

    def __init__(self):
        super().__init__("info sve", gdb.COMMAND_STATUS, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("usage: info sve")
        cpus = parse_monitor_vls(gdb.execute("monitor vls", to_string=True))
        current = gdb.selected_thread()
        if current is None:
            raise gdb.GdbError("svedbg-sve: no thread selected (connect with `target remote` first)")
        desc_bits = read_reg("z0").type.sizeof * 8 if vl_or_none() else None
        rows = []
        try:
            for t in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
                t.switch()
                rows.append(self.row(t, cpus))
        finally:
            current.switch()
        if desc_bits:
            gdb.write(f"gdb's register layout: Z {desc_bits} bits, P/FFR {desc_bits // 8} bits, for every thread\n")
        gdb.write(f"{'':2}{'Thread':<8}{'vCPU':<6}{'enabled VLs (bits)':<22}{'max':<6}{'effective VL':<14}"
                  "ZCR_EL1.LEN\n")
        for t, cpu, enabled, mx, eff, zlen in rows:
            mark = "*" if t.num == current.num else " "
            gdb.write(f"{mark:2}{t.num:<8}{cpu:<6}{enabled:<22}{mx:<6}{eff:<14}{zlen:<12}\n".rstrip() + "\n")

    @staticmethod
    def row(t, cpus):
        m = re.match(r"^vCPU (\d+)$", t.name or "")
        cpu = int(m.group(1)) if m else t.num - 1
        info = cpus.get(cpu, {"enabled": None, "max": None})
        if info["enabled"] is None:
            return t, cpu, "no SVE", "-", "-", "-"
        eff = vl_or_none()
        zlen = int(read_reg("zcr_el1")) & 0xF
        return (t, cpu, format_bits_list(info["enabled"]), info["max"], eff if eff else "?", zlen)


def vl_or_none():
    try:
        return vl_bits()
    except gdb.GdbError:
        return None


class SveVl(gdb.Function):
    """$_sve_vl() - the current thread's effective SVE vector length in bits."""

    def __init__(self):
        super().__init__("_sve_vl")

    def invoke(self):
        return vl_bits()


class SveLanes(gdb.Function):
    """$_sve_lanes(REG, SIZE) - lanes of REG ("z0", "p1", "ffr") with elements
of SIZE ("b", "h", "s", "d", "q") below the current thread's effective VL."""

    def __init__(self):
        super().__init__("_sve_lanes")

    def invoke(self, reg, size=None):
        letter = size.string() if size is not None else "d"
        return lane_count(reg.string(), element_bytes(letter), vl_bits())


SvePrefix()
SvePrint()
InfoSve()
SveVl()
SveLanes()
