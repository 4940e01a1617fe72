// sve_loop: one vCPU runs an SVE loop that stores to a buffer and lowers its
// vector length after three iterations. Run it with --wait-gdb (gdb attaches
// at _start) and --load-addr 0x40080000; the cases name these addresses:
//
//   0x40080100 loop:      add   z0.d, z0.d, #1         every lane += 1
//   0x40080104            add   z2.d, z0.d, z1.d       z2.d[i] = z0.d[i] + i
//   0x40080108            st1d  {z2.d}, p0, [x23]      buf.d[i] = z2.d[i], i < VL/64
//   0x4008010c            add   x22, x22, #1           iterations done
//   0x40080110            cmp   x22, #3
//   0x40080114            b.ne  0x40080124
//   0x40080118            mov   x0, #1
//   0x4008011c vl_change: msr   ZCR_EL1, x0            VL 512 -> 256 bits
//   0x40080120            isb
//   0x40080124            b     loop
//   0x40080800 buf:       256 zero bytes (x23)
//
// Before the loop: ZCR_EL1.LEN = 3 (512 bits), z0 = 0, z1.d[i] = i,
// p0 = ptrue .d, x22 = 0. So in iteration k (k = 1, 2, ...) the first
// instruction makes z0.d[i] = k, and the store writes buf.d[i] = k + i for
// the 8 lanes of 512 bits (k <= 3) or the 4 lanes of 256 bits (k >= 4).
#include "guest.inc"
        .text
        .globl  _start
_start:
        enable_fp_sve
        cpu_index
        mov     x0, #3
        msr     S3_0_C1_C2_0, x0        // ZCR_EL1.LEN = 3: 512 bits
        isb
        mov     z0.d, #0
        index   z1.d, #0, #1
        ptrue   p0.d
        mov     x22, #0
        adr     x23, buf
        b       loop

        .org    0x100
loop:
        add     z0.d, z0.d, #1
        add     z2.d, z0.d, z1.d
        st1d    {z2.d}, p0, [x23]
        add     x22, x22, #1
        cmp     x22, #3
        b.ne    1f
        mov     x0, #1
vl_change:
        msr     S3_0_C1_C2_0, x0        // ZCR_EL1.LEN = 1: 256 bits
        isb
1:      b       loop

        .org    0x800
buf:    .space  256
        guest_data
