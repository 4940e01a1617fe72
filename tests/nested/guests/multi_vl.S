// multi_vl: up to 4 vCPUs, vCPU c asks for VL 128, 256, 512, 2048 bits
// (ZCR_EL1.LEN = 0, 1, 3, 15) for c = 0, 1, 2, 3 (more vCPUs repeat the
// pattern), fills Z/P/FFR as guest.inc documents and spins. Needs at
// least 4 vCPUs (vCPU 0 prints "multi_vl: ready" once vCPUs 0-3 are set up).
#include "guest.inc"
        .text
        .globl  _start
_start:
        enable_fp_sve
        cpu_index
        set_len_from lens
#include "fill_sve.inc"
        ready   4, msg
        spin
lens:   .byte   0, 1, 3, 15, 0, 1, 3, 15, 0, 1, 3, 15, 0, 1, 3, 15
msg:    .asciz  "multi_vl: ready\n"
        guest_data
