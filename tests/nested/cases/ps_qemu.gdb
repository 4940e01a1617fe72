# gdb through svedbg serve --pid QEMU agrees with what ps --vl said.
set remotetimeout 30
info threads
