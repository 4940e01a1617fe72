info threads
p $vg
thread 2
p $vg
thread 1
# Stay attached while ps --vl runs in the VM (ps_attach.sh).
shell sleep 6
# The guest still runs after every ps: x20 counts on between two attaches.
set $x20a = $x20
python addr = gdb.selected_inferior().connection.details
detach
shell sleep 2
python gdb.execute("target remote " + addr)
p $x20 > $x20a
detach
