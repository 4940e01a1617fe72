info threads
p $vg
p sizeof($z0)
p/x $z5.b.u[63]
p/x $z5.b.u[64]
p/x $z5.b.u[127]
p $p2
monitor vls
set $pc0 = $pc
if *(unsigned int *)$pc != 0x91000694
  stepi
  set $pc0 = $pc
end
stepi
p $pc - $pc0
