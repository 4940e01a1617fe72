# At _start: ZCR_EL1 as KVM reset it (LEN 0, 128 bits).
p/x $pc
info threads
# loop: (0x40080100) in iteration 1, VL 512 bits: z0 = 0, z1.d[i] = i
break *0x40080100
continue
p $x22
p $vg
p $z0.d.u
p $z1.d.u
x/3i $pc
# add z0.d, z0.d, #1: every lane += 1
stepi
p/x $pc
p $z0.d.u
# add z2.d, z0.d, z1.d: z2.d[i] = 1 + i
stepi
p $z2.d.u
x/8gx 0x40080800
# st1d {z2.d}, p0, [x23]: 8 lanes of 64 bits to buf
stepi
x/10gx 0x40080800
p/x $pc
# Iteration 2
continue
p $x22
p $z0.d.u
stepi
p $z0.d.u
stepi
stepi
x/10gx 0x40080800
info breakpoints
delete
# Ctrl-C (gdb gets SIGINT) while the guest runs: it stops inside the loop,
# past the VL change.
python
import os, signal, threading
threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
p $vg
p $pc >= 0x40080100 && $pc <= 0x40080124
p $x22 > 5
