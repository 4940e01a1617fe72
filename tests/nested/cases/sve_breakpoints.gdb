# From an `add x20, x20, #1` (0x91000694) of the straight-line spin loop
# (64 adds, then the branch back) whose next four instructions are adds too,
# so both breakpoints below lie ahead on the straight line.
while *(unsigned int *)$pc != 0x91000694 || *(unsigned int *)($pc + 16) != 0x91000694
  stepi
end
set $pc0 = $pc
hbreak *($pc0 + 8)
continue
p $pc - $pc0
delete
break *($pc0 + 16)
continue
p $pc - $pc0
delete
set $x20a = $x20
stepi
p $x20 - $x20a
p $vg
