p $vg
info threads
