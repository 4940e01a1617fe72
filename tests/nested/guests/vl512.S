// vl512: one vCPU that computes at VL 512 bits (ZCR_EL1.LEN = 3) whatever
// the VMM's maximum (the case runs with --max-vl 2048), fills Z/P/FFR as
// guest.inc documents and spins.
#include "guest.inc"
        .text
        .globl  _start
_start:
        enable_fp_sve
        cpu_index
        set_len_from lens
#include "fill_sve.inc"
        ready   1, msg
        spin
lens:   .byte   3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3
msg:    .asciz  "vl512: ready\n"
        guest_data
