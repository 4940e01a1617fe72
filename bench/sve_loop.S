// The program qemu-aarch64 (the peer) runs for bench/run: a static arm64
// Linux program without libc. It fills a 1 MiB buffer and every SVE register
// with patterns, reaches `ready`, then runs a long loop of single
// instructions forever so gdb can stepi through it (bench/README.md).
//
//   aarch64-linux-gnu-gcc -static -nostdlib -march=armv8.2-a+sve -o sve_loop sve_loop.S
//   qemu-aarch64 -cpu max,sve-default-vector-length=256 -g PORT sve_loop
//
// x1 = the VL in bytes (rdvl), for the bench to check that VL = 2048 bits.
        .arch   armv8.2-a+sve
        .text
        .global _start
_start:
        // buf[i] = i mod 251, as the simulated guest's RAM above 0x1000.
        adrp    x2, buf
        add     x2, x2, :lo12:buf
        mov     x3, #0                  // i
        mov     x4, #0                  // i mod 251
        mov     x5, #(1 << 20)
1:      strb    w4, [x2, x3]
        add     x3, x3, #1
        add     x4, x4, #1
        cmp     x4, #251
        csel    x4, xzr, x4, eq
        cmp     x3, x5
        b.ne    1b

        rdvl    x1, #1                  // VL in bytes
        ptrue   p15.b                   // all lanes, for the fills below
        .irp    n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        index   z\n\().b, #(\n % 16), #((\n % 15) + 1)      // byte b = start + b*step
        .endr
        // Predicates: a different lane pattern in each.
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
        wrffr   p9.b                    // ffr = p9's pattern
        ptrue   p15.b, vl256
        .global ready
ready:
        // 1024 single-instruction steps before the branch back.
        .rept   1024
        add     x0, x0, #1
        .endr
        b       ready

        .bss
        .balign 4096
        .global buf
buf:    .skip   1 << 20
