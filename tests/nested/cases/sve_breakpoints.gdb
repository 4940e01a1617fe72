# From an `add x20, x20, #1` (0x91000694) of the straight-line spin loop.
set $pc0 = $pc
if *(unsigned int *)$pc != 0x91000694
  stepi
  set $pc0 = $pc
end
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
