// The function pair of tests/nested/linux/pac-probe/run-probe: `leaf` signs
// its return address (paciasp) and saves it, with the CFI that tells gdb
// so (.cfi_negate_ra_state); a stop at its second nop has a signed LR in
// its frame record.
    .text
    .globl leaf
    .type leaf, %function
leaf:
    .cfi_startproc
    hint #25            // paciasp
    .cfi_negate_ra_state
    stp x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    .cfi_offset 29, -16
    .cfi_offset 30, -8
    mov x29, sp
    nop
    nop
    ldp x29, x30, [sp], #16
    hint #29            // autiasp
    ret
    .cfi_endproc
    .size leaf, .-leaf
    .globl caller
    .type caller, %function
caller:
    .cfi_startproc
    nop
    bl leaf
    nop
    b .
    .cfi_endproc
    .size caller, .-caller
