# run-guest connected with gdb's defaults; this shows them unchanged.
show remotetimeout
info threads
thread 64
p $vg
p/x $x19
p/x $x21
p/x $mpidr_el1
p/x $z0.b.u[0]
p/x $z0.b.u[63]
p/x $z0.b.u[64]
p $p1
thread 1
p/x $x21
monitor attach
detach
