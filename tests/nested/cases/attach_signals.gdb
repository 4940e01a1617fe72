p/x $z0.b.u[63]
p $vg
stepi
p/x $z31.b.u[0]
