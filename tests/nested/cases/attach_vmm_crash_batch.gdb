# svedbg's first batch read every vCPU's VLS when it attached; the
# connection's first batch read the stop reply's registers; the next, for
# the Z/P/FFR group (gdb asks with `g`), is where the VMM dies (batch 3).
p $pc
python
try:
    gdb.execute("p/x $z0.b.u[63]")
except gdb.error as e:
    print("error: %s" % e)
end
# svedbg has seen the VMM go: the next resume ends in an exit stop reply.
continue
info threads
# Time for the VM-side watcher to try a new client (its lines follow gdb's).
shell sleep 20
