info threads
p $vg
p sizeof($z0)
p/x $z0.b.u[0]
p/x $z0.b.u[63]
p/x $z0.b.u[64]
p/x $z31.b.u[63]
p $p1
p $ffr
p/x $x21
monitor vls
monitor attach
# the guest's spin loop counts in x20: after detach it runs on, and a second
# attach sees it further on with the same SVE state
set $x20a = $x20
python addr = gdb.selected_inferior().connection.details
detach
shell sleep 2
python gdb.execute("target remote " + addr)
p $x20 > $x20a
p $vg
p/x $z0.b.u[63]
p $ffr
monitor attach
detach
