# gdb's `?` and `g` at connection read every register; this shows them.
info all-registers
p $vg
p sizeof($z0)
p/x $z0.b.u[0]
p/x $z0.b.u[63]
p/x $z0.b.u[64]
p/x $z31.b.u[63]
p $p1
p $ffr
p/x $x21
monitor stats
# A new stop: `monitor attach` reports what the first one cost in all.
stepi
monitor attach
# The same registers with one injected system call each.
monitor attach batch off
info all-registers
p/x $z0.b.u[63]
p/x $z31.b.u[63]
p $p1
p $ffr
p/x $x21
monitor stats
monitor attach
monitor attach batch on
stepi
info all-registers
p/x $z31.b.u[63]
monitor attach
# The code cave has its own bytes back before the VMM runs: it runs on after detach.
set $x20a = $x20
python addr = gdb.selected_inferior().connection.details
detach
shell sleep 2
python gdb.execute("target remote " + addr)
p $x20 > $x20a
p $ffr
monitor attach
detach
