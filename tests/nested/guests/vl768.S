// vl768: asks for VL 768 bits (ZCR_EL1.LEN = 5). On a host whose vector
// lengths are 128, 256, 384, 512 and 1024 bits the effective VL is the
// largest of those <= 768, i.e. 512 bits. Fills Z/P/FFR as guest.inc
// documents and spins.
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
lens:   .byte   5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5
msg:    .asciz  "vl768: ready\n"
        guest_data
