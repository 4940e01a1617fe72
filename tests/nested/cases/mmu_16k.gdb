# The guest turned the MMU on (x25 = 1) and wrote PATTERN+0..3 at ALIAS0 and
# PATTERN+4..7 at ALIAS1+16, both mapped to PA 0x40400000 (mmu.inc).
p $x25
p/x $sctlr_el1
p/x $tcr_el1
p/x $ttbr0_el1
p/x $ttbr1_el1
p/x $mair_el1
# By virtual address (default), through either alias, then by physical address.
x/8xw 0x7e57a11a0000
x/4xw 0xffff000001230010
monitor translate 0x7e57a11a0000
monitor translate 0xffff000001230010
monitor translate 0x40080000
monitor translate 0x09000000
monitor phys on
x/8xw 0x40400000
monitor phys off
# A write by VA through ALIAS1 lands in the data page: seen by PA and through ALIAS0.
set var *(unsigned int *)0xffff000001230020 = 0xc0ffee42
x/xw 0x7e57a11a0020
monitor phys on
x/xw 0x40400020
monitor phys off
# Unmapped VAs (TTBR0 and TTBR1 halves) are errors, not zeros.
python
for cmd in ("x/xw 0x100000000000", "monitor translate 0x100000000000", "x/xw 0xffff800000000000"):
    try:
        gdb.execute(cmd)
    except gdb.error as e:
        print("error:", e)
end
# A software breakpoint (BRK written by VA) with the MMU on: at an `add x20,
# x20, #1` (0x91000694) of the 65-instruction spin loop, hit again one lap later.
set $pc0 = $pc
if *(unsigned int *)$pc != 0x91000694
  stepi
  set $pc0 = $pc
end
set $x20a = $x20
break *$pc0
continue
p $pc - $pc0
p $x20 - $x20a
delete
# The original instruction is back (read from the guest: no breakpoint left to shadow).
x/xw $pc0
