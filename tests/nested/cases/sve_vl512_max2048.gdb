info threads
p $vg
p sizeof($z0)
p/x $z0.b.u[0]
p/x $z0.b.u[63]
p/x $z0.b.u[64]
p/x $z0.b.u[255]
p/x $z31.b.u[0]
p/x $z31.b.u[63]
p $p1
p $ffr
p/x $x21
monitor vls
# stepi from an `add x20, x20, #1` (0x91000694) of the spin loop: pc += 4, x20 += 1
set $pc0 = $pc
if *(unsigned int *)$pc != 0x91000694
  stepi
  set $pc0 = $pc
end
set $x20a = $x20
stepi
p $pc - $pc0
p $x20 - $x20a
p $vg
