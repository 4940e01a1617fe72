# From an `add x20, x20, #1` (0x91000694) of the spin loop whose next four
# instructions are adds too.
while *(unsigned int *)$pc != 0x91000694 || *(unsigned int *)($pc + 16) != 0x91000694
  stepi
end
# KVM's reset PSTATE is 0x3c5 (EL1h, DAIF masked), so far no step needed the
# mask. Clear I and F as the guest's `msr daifclr, #3` would.
set $cpsr = 0x305
set $x20a = $x20
set $pc0 = $pc
stepi
p/x $cpsr
stepi
p/x $cpsr
stepi
stepi
p $x20 - $x20a
p $pc - $pc0
p/x $cpsr
monitor step-irq
monitor step-irq off
stepi
p/x $cpsr
monitor step-irq
set $cpsr = 0x3c5
detach
