info all-registers
monitor stats
info all-registers
p $z5
p $p3
monitor stats
stepi
monitor stats
info all-registers
monitor stats
