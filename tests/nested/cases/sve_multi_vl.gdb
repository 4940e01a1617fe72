info threads
thread 1
p $vg
p/x $z0.b.u[15]
p/x $z0.b.u[16]
thread 2
p $vg
p/x $z0.b.u[31]
p/x $z0.b.u[32]
thread 3
p $vg
p/x $z1.b.u[63]
p/x $z1.b.u[64]
thread 4
p $vg
p/x $z2.b.u[255]
p $p15
p/x $x19
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
thread 1
p $vg
