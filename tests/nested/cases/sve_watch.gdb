# A write watchpoint on buf.d[0] (0x40080800): every st1d changes it,
# iteration k writes k.
watch *(long *)0x40080800
continue
p/x $pc
p $x22
continue
continue
continue
p $x22
p $vg
x/10gx 0x40080800
delete
# buf.d[3] (0x40080818) inside the 256-bit store: iteration 5 writes 8 over 7.
watch *(long *)0x40080818
continue
p/x $pc
p $x22
x/10gx 0x40080800
info watchpoints
# buf.d[5] (0x40080828) lies above the 256-bit VL: the st1d no longer
# reaches it, so the loop breakpoint comes first, twice.
delete
watch *(long *)0x40080828
break *0x40080100
continue
p $x22
continue
p $x22
x/2gx 0x40080820
