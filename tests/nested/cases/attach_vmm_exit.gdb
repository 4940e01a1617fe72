p/x $z0.b.u[63]
continue
info threads
# Time for the VM-side watcher to try a new client (its lines follow gdb's).
shell sleep 20
