"""svedbg's gdb extension for Linux guests booted with KASLR: `svedbg-kaslr`.

An arm64 Linux kernel with CONFIG_RANDOMIZE_BASE (Debian's default) runs
moved from its link addresses by a random offset (a multiple of 2 MiB in
6.1: __primary_switch masks kaslr_early_init()'s result with ~(SZ_2M - 1)),
so a vmlinux loaded with `file` names the wrong addresses. This command finds
the offset from the guest's registers and reloads the symbols with it:

    (gdb) file vmlinux-6.1.0-57-cloud-arm64      # before target remote
    (gdb) target remote 127.0.0.1:1234
    (gdb) source tools/gdb/svedbg-kaslr.py    # installed: PREFIX/share/svedbg/
    (gdb) svedbg-kaslr [VMLINUX]

  1. Link addresses are read from VMLINUX's own ELF symbol table (default:
     the file gdb loaded), so the command works whatever offset gdb's
     symbols currently have, and again after a reboot.
  2. Candidates from each vCPU's VBAR_EL1 (the runtime address of the
     exception vectors, arch/arm64/kernel/entry.S): VBAR_EL1 - `vectors`,
     and VBAR_EL1 - (`__bp_harden_el1_vectors` + k * 2 KiB), the Spectre-BHB
     vector slots (arch/arm64/kernel/proton-pack.c, this_cpu_set_vectors());
     only 64 KiB-aligned ones are kept (the Image's alignment). With KPTI a
     vCPU at EL0 may hold the trampoline alias (TRAMP_VALIAS), which is
     outside the image and yields no candidate; another vCPU or a later stop
     does.
  3. Each candidate is checked against guest memory: `kimage_vaddr`
     (arch/arm64/kernel/head.S, relocated by the kernel itself) read at its
     runtime address must hold the runtime address of `_text`. The first
     candidate that passes is the offset.
  4. Cross-check: every vCPU stopped at EL1 must have its pc inside the
     moved image [_text, _end); the command prints the function each is in.
  5. `symbol-file -o OFFSET VMLINUX` (gdb 9 and later), unless gdb's
     `vectors` already sits at the runtime address.

Prints "svedbg-kaslr: KASLR offset 0x... (...)". Errors (gdb.GdbError) say
which step failed. Tested: nested case linux_kaslr (Debian 6.1.0-57
cloud-arm64 booted without nokaslr, gdb-multiarch 13.1); see
docs/linux-guests.md.
"""
import os
import struct

import gdb

# Symbols whose link addresses the command needs.
_WANTED = ("vectors", "__bp_harden_el1_vectors", "kimage_vaddr", "_text", "_end")
_BHB_SLOTS = 8  # __bp_harden_el1_vectors holds at most this many 2 KiB slots (EL1_VECTOR_*)
_IMAGE_ALIGN = 0x10000


def elf_symbols(path, wanted=_WANTED):
    """{name: value} of the `wanted` symbols in the ELF64 LE file's .symtab."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            raise gdb.GdbError(f"svedbg-kaslr: {path} is not a 64-bit little-endian ELF file")
        shoff, = struct.unpack_from("<Q", ehdr, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", ehdr, 0x3a)
        f.seek(shoff)
        sections = [struct.unpack_from("<IIQQQQIIQQ", f.read(shentsize)) for _ in range(shnum)]
        symtab = next((s for s in sections if s[1] == 2), None)  # SHT_SYMTAB
        if symtab is None:
            raise gdb.GdbError(f"svedbg-kaslr: {path} has no symbol table (.symtab)")
        strtab = sections[symtab[6]]  # sh_link
        f.seek(symtab[4])
        syms = f.read(symtab[5])
        f.seek(strtab[4])
        strings = f.read(strtab[5])
    keys = {name.encode(): name for name in wanted}
    found = {}
    for at in range(0, len(syms), 24):  # Elf64_Sym
        name_off, = struct.unpack_from("<I", syms, at)
        end = strings.find(b"\0", name_off)
        name = keys.get(strings[name_off:end])
        if name and name not in found:
            found[name] = struct.unpack_from("<Q", syms, at + 8)[0]
    return found


def _threads():
    return sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)


def _reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def _candidates(link, vbars):
    out = []
    for vbar in vbars:
        bases = [link["vectors"]] if "vectors" in link else []
        if "__bp_harden_el1_vectors" in link:
            bases += [link["__bp_harden_el1_vectors"] + 0x800 * k for k in range(_BHB_SLOTS)]
        for base in bases:
            off = (vbar - base) & 0xFFFFFFFFFFFFFFFF
            if off % _IMAGE_ALIGN == 0 and off not in out:
                out.append(off)
    return out


def _memory_check(link, off):
    """kimage_vaddr at its runtime address holds _text's runtime address."""
    try:
        raw = gdb.selected_inferior().read_memory(link["kimage_vaddr"] + off, 8)
    except gdb.MemoryError:
        return False
    value, = struct.unpack("<Q", bytes(raw))
    return value == (link["_text"] + off) & 0xFFFFFFFFFFFFFFFF


def find_offset(path):
    """(offset, link addresses, [(vCPU, pc) at EL1]) of the running kernel."""
    link = elf_symbols(path)
    missing = [s for s in ("kimage_vaddr", "_text", "_end") if s not in link]
    if missing or ("vectors" not in link and "__bp_harden_el1_vectors" not in link):
        raise gdb.GdbError(f"svedbg-kaslr: {path} lacks {missing or ['vectors']}: not an arm64 vmlinux?")
    if not gdb.selected_inferior().pid:
        raise gdb.GdbError("svedbg-kaslr: not connected (target remote to svedbg first)")
    selected = gdb.selected_thread()
    vbars, el1_pcs = [], []
    try:
        for t in _threads():
            t.switch()
            vbars.append(_reg("vbar_el1"))
            if (_reg("cpsr") >> 2) & 3 == 1:
                el1_pcs.append((t.num - 1, _reg("pc")))
    finally:
        selected.switch()
    cands = _candidates(link, vbars)
    good = [off for off in cands if _memory_check(link, off)]
    if not good:
        raise gdb.GdbError("svedbg-kaslr: no offset from VBAR_EL1 ({}) is confirmed by kimage_vaddr in guest "
                           "memory (candidates {}): is {} the running kernel's vmlinux?".format(
                               ", ".join(f"{v:#x}" for v in vbars), [hex(c) for c in cands] or "none", path))
    off = good[0]
    for vcpu, pc in el1_pcs:
        if not link["_text"] + off <= pc < link["_end"] + off:
            raise gdb.GdbError(f"svedbg-kaslr: offset {off:#x} from VBAR_EL1 and kimage_vaddr, but vCPU {vcpu}'s "
                               f"pc {pc:#x} at EL1 is outside the moved image "
                               f"[{link['_text'] + off:#x}, {link['_end'] + off:#x})")
    return off, link, el1_pcs


def _loaded_vectors():
    try:
        return int(gdb.parse_and_eval("(unsigned long)&vectors"))
    except gdb.error:
        return None


class SvedbgKaslr(gdb.Command):
    """svedbg-kaslr [VMLINUX]: find the guest kernel's KASLR offset from VBAR_EL1
(checked against kimage_vaddr in guest memory and each EL1 vCPU's pc) and
reload VMLINUX's symbols with it (symbol-file -o OFFSET). VMLINUX defaults
to the file loaded with `file`."""

    def __init__(self):
        super().__init__("svedbg-kaslr", gdb.COMMAND_FILES, gdb.COMPLETE_FILENAME)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        path = args[0] if args else gdb.current_progspace().filename
        if not path:
            raise gdb.GdbError("svedbg-kaslr: no vmlinux: `file VMLINUX` first, or name it")
        path = os.path.expanduser(path)
        off, link, el1_pcs = find_offset(path)
        signed = off - (1 << 64) if off >> 63 else off
        how = f"VBAR_EL1 and kimage_vaddr agree; {len(el1_pcs)} vCPU pc at EL1 inside the image"
        if _loaded_vectors() != (link.get("vectors", 0) + off) & 0xFFFFFFFFFFFFFFFF:
            confirm = gdb.parameter("confirm")
            gdb.execute("set confirm off")
            try:
                gdb.execute(f"symbol-file -o {signed:#x} {path}", to_string=True)
            finally:
                gdb.execute(f"set confirm {'on' if confirm else 'off'}")
            how += "; symbols reloaded"
        else:
            how += "; symbols already at that offset"
        print(f"svedbg-kaslr: KASLR offset {off:#x} ({how})")
        for vcpu, pc in el1_pcs:
            where = gdb.execute(f"info symbol {pc:#x}", to_string=True).strip()
            print(f"svedbg-kaslr: vCPU {vcpu} pc {pc:#x}: {where}")


SvedbgKaslr()
