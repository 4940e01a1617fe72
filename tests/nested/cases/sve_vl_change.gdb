# At _start: 128 bits (ZCR_EL1 as KVM reset it).
p $vg
# vl_change: (0x4008011c) msr ZCR_EL1, x0 in iteration 3, still at 512 bits.
hbreak *0x4008011c
continue
x/i $pc
p $x22
p $vg
p/x $zcr_el1
p $z0.d.u
p $z2.d.u
p/x $z0.b.u[32]
info threads
# After the write: 256 bits; lanes above it read zero.
stepi
p/x $pc
p $vg
p/x $zcr_el1
p $z0.d.u
p $z2.d.u
p/x $z0.b.u[31]
p/x $z0.b.u[32]
p $p0
info threads
monitor vls
delete
# Iteration 4 at 256 bits: the st1d stores 4 lanes (32 bytes) only.
break *0x40080108
continue
p $x22
p $vg
p $z0.d.u
p $z2.d.u
stepi
x/10gx 0x40080800
p sizeof($z0)
