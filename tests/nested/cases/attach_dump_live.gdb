p/x $z0.b.u[63]
p/x $z31.b.u[0]
p/x $zcr_el1
monitor dump json
