info threads
p $v0
p/x $v0.d.u
p/x $v1.b.u[15]
p/x $v31.b.u[0]
p $z0
p $vg
p/x $fpsr
monitor vls
set $pc0 = $pc
if *(unsigned int *)$pc != 0x91000694
  stepi
  set $pc0 = $pc
end
set $x20a = $x20
stepi
p $pc - $pc0
p $x20 - $x20a
