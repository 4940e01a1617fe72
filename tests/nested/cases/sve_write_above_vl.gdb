# At _start: VL 128 bits. A lane above it cannot hold a value: refused with
# svedbg's reason (the command's error is printed, the script goes on).
p $vg
python
for cmd in ("set $z0.d.u[5] = 0xdeadbeef", "set $p1[2] = 1"):
    try:
        gdb.execute(cmd)
        print("accepted:", cmd)
    except gdb.error as e:
        print("refused:", e)
end
# Read back from KVM, not gdb's register cache.
maintenance flush register-cache
p/x $z0.d.u[5]
p $p1[2]
# Below the VL: gdb sends the register with zeros above it, accepted.
set $z31.d.u[1] = 0x1122334455667788
set $p15[1] = 0x55
maintenance flush register-cache
p/x $z31.d.u
p/x $p15
# vl_change (0x4008011c), iteration 3: the guest runs at 512 bits now.
hbreak *0x4008011c
continue
p $vg
set $z31.d.u[5] = 0xfeedf00d
maintenance flush register-cache
p/x $z31.d.u[5]
