// fpsimd: for vCPUs without SVE (--no-sve). Enables FP/SIMD only and loads
// vN.b[i] = (N + 0x40*c + i) mod 256, i < 16 (the low 128 bits of the SVE
// guests' zN), fpsr = 0, then spins.
#include "guest.inc"
        .text
        .globl  _start
_start:
        enable_fp
        cpu_index
        adr     x1, vtable
        lsl     x2, x19, #6             // row offset 0x40*c: vN starts at byte N + 0x40c
        add     x1, x1, x2
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        add     x5, x1, #\n
        ld1     {v\n\().16b}, [x5]        // byte elements: no alignment fault (MMU off = Device memory)
        .endr
        ready   1, msg
        spin
msg:    .asciz  "fpsimd: ready\n"
        .balign 16
// byte k = k mod 256 for k < 0x40*15 + 31 + 16: vN of vCPU c is bytes
// N + 0x40c .. N + 0x40c + 15.
vtable:
        .set    k, 0
        .rept   1024 + 64
        .byte   k & 0xff
        .set    k, k + 1
        .endr
        guest_data
