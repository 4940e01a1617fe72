# Loaded as a user would (`source`); the path comes from the case's env.
python import os; gdb.execute("source " + os.environ["SVEDBG_SVE_EXT"])
# At _start: 128 bits (ZCR_EL1 as KVM reset it).
info sve
p $_sve_vl()
# vl_change: (0x4008011c) msr ZCR_EL1, x0 in iteration 3, still at 512 bits.
hbreak *0x4008011c
continue
info sve
p $_sve_vl()
p $_sve_lanes("z0", "d")
sve print z2 /d
# After the guest's write: 256 bits, 4 lanes of 64 bits.
stepi
info sve
p $_sve_vl()
p $_sve_lanes("z0", "d")
sve print z2 /d
sve print p0 /d
p sizeof($z0)
