// An arm64 Linux program (no libc) for tests/e2e/test_gcore.py: it fills
// every SVE register, FFR, FPSR and FPCR with distinct patterns, then spins
// at `ready`, where gdb (through qemu-aarch64's gdbstub) takes a `gcore`.
//
//   aarch64-linux-gnu-gcc -static -nostdlib -march=armv8.2-a+sve -o sve_gcore sve_gcore.S
        .arch   armv8.2-a+sve
        .text
        .global _start
_start:
        .irp    n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        index   z\n\().b, #(\n % 16), #((\n % 7) + 1)       // byte b = start + b*step
        .endr
        ptrue   p0.b, pow2
        ptrue   p1.b, vl1
        ptrue   p2.h, vl2
        ptrue   p3.s, vl3
        ptrue   p4.d, vl4
        ptrue   p5.b, vl5
        ptrue   p6.h, vl6
        ptrue   p7.s, vl7
        ptrue   p8.d, vl8
        ptrue   p9.b, vl16
        ptrue   p10.h, vl32
        ptrue   p11.s, vl64
        ptrue   p12.d, vl128
        ptrue   p13.b, mul4
        ptrue   p14.h, mul3
        ptrue   p15.b, vl7
        wrffr   p5.b
        // FPCR.RMode = round towards zero, FPSR = the cumulative IOC|IXC flags:
        // non-zero, so a misplaced fpsr/fpcr in a core shows.
        mov     x0, #0xc00000
        msr     fpcr, x0
        mov     x0, #0x11
        msr     fpsr, x0
        mov     x19, #0x5e5e
        .global ready
ready:
        add     x20, x20, #1
        b       ready
