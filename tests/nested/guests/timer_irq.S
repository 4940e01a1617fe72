// timer_irq: a guest with a ticking timer interrupt, for svedbg-vmm --gic
// (an in-kernel vGICv3: distributor at 0x08000000, redistributors at
// 0x080a0000, 128 KiB per vCPU). Each vCPU c fills Z/P/FFR as guest.inc
// documents (VL 512 bits, capped at the VMM's maximum), then sets up:
//   - GICv3 distributor (vCPU 0): GICD_CTLR = ARE_NS | EnableGrp1A;
//   - its redistributor: GICR_WAKER.ProcessorSleep = 0, and in the SGI
//     frame PPI 27 (the EL1 virtual timer, KVM's default) in group 1
//     (GICR_IGROUPR0), priority 0xa0 (GICR_IPRIORITYR), enabled
//     (GICR_ISENABLER0) (GICv3 architecture spec, IHI 0069, 12.9/12.10);
//   - the CPU interface: ICC_SRE_EL1.SRE, ICC_PMR_EL1 = 0xff,
//     ICC_IGRPEN1_EL1 = 1;
//   - VBAR_EL1 = vectors; the virtual timer (CNTV_CVAL_EL0, CNTV_CTL_EL0)
//     1 ms ahead (CNTFRQ_EL0 / 1000 ticks, kept in `period`);
// prints "timer_irq: ready" (vCPU 0), unmasks IRQ and FIQ (PSTATE 0x305)
// and counts in a loop. Each timer interrupt enters at VBAR_EL1 + 0x280
// (IRQ, current EL with SP_ELx; Arm ARM D1.10.2), which acks it
// (ICC_IAR1_EL1), adds 1 to the vCPU's tick counter, re-arms the timer
// `period` ahead of now, EOIs (ICC_EOIR1_EL1) and erets. A debugger stop
// lasts far longer than 1 ms, so the tick is pending whenever the vCPU
// resumes, as on a Linux guest.
// Addresses with --load-addr 0x40080000 (the cases name them):
//   0x40080400 loop:  add  x19, x19, #1     iterations (0x91000673)
//   0x40080404        str  x19, [x20]       counts[c] = x19
//   0x40080408        b    loop
//   0x40080480 wfi_at: wfi; add x22, x22, #1; b loop (only for a debugger)
//   0x40080800 vectors (VBAR_EL1); 0x40080a80 the IRQ handler
//   0x40081000 counts[16] (u64), 0x40081080 ticks[16] (u64), 0x40081100 period
// vCPUs other than 0 wait until vCPU 0 has enabled the distributor.
// Every other exception vector is `b .` (a hang a debugger sees at once).
#include "guest.inc"
        .equ GICD, 0x08000000
        .equ GICR, 0x080a0000
        .equ GICR_WAKER, 0x14
        .equ GICR_SGI_FRAME, 0x10000
        .equ GICR_IGROUPR0, 0x80
        .equ GICR_ISENABLER0, 0x100
        .equ GICR_IPRIORITYR, 0x400
        .equ TIMER_PPI, 27
        .text
        .globl  _start
_start:
        enable_fp_sve
        cpu_index
        mov     x0, #3
        msr     S3_0_C1_C2_0, x0        // ZCR_EL1.LEN = 3: 512 bits (or the maximum)
        isb
#include "fill_sve.inc"
        // Stack (256 bytes per vCPU) for the IRQ handler, SP_EL1 (EL1h).
        adr     x0, stacks
        add     x0, x0, x19, lsl #8
        add     x0, x0, #256
        mov     sp, x0
        // TPIDR_EL1 = &ticks[c]; x20 = &counts[c].
        adr     x0, ticks
        add     x0, x0, x19, lsl #3
        msr     tpidr_el1, x0
        adr     x20, counts
        add     x20, x20, x19, lsl #3
        adr     x0, vectors
        msr     vbar_el1, x0
        isb

        // Distributor, once: affinity routing, group 1 on (GICD_CTLR bits 4, 1).
        // The other vCPUs wait for it (gicd_on) before arming their timer:
        // seen on KVM 6.1 with 2 vCPUs, a timer that fired while the
        // distributor was still disabled was never delivered after it was
        // enabled (the timer's level stays high, so KVM injects no new
        // edge), and that vCPU never ticked. Linux too enables the
        // distributor on the boot CPU before the others start.
        adr     x2, gicd_on
        cbnz    x19, 1f
        mov     x0, #GICD
        mov     w1, #0x12
        str     w1, [x0]
2:      ldr     w1, [x0]                // wait for GICD_CTLR.RWP (bit 31) to clear
        tbnz    w1, #31, 2b
        mov     w1, #1
        str     w1, [x2]
        dsb     sy
1:      ldr     w1, [x2]
        cbz     w1, 1b
        // This vCPU's redistributor: wake it, then PPI 27 in its SGI frame.
        mov     x0, #GICR
        add     x0, x0, x19, lsl #17    // 2 x 64 KiB frames per vCPU
        ldr     w1, [x0, #GICR_WAKER]
        bic     w1, w1, #2              // ProcessorSleep = 0
        str     w1, [x0, #GICR_WAKER]
3:      ldr     w1, [x0, #GICR_WAKER]   // wait for ChildrenAsleep (bit 2) to clear
        tbnz    w1, #2, 3b
        add     x0, x0, #GICR_SGI_FRAME
        ldr     w1, [x0, #GICR_IGROUPR0]
        orr     w1, w1, #(1 << TIMER_PPI)
        str     w1, [x0, #GICR_IGROUPR0]
        mov     w1, #0xa0
        strb    w1, [x0, #(GICR_IPRIORITYR + TIMER_PPI)]
        mov     w1, #(1 << TIMER_PPI)
        str     w1, [x0, #GICR_ISENABLER0]

        // CPU interface: system registers, every priority, group 1 on.
        mrs     x0, S3_0_C12_C12_5      // ICC_SRE_EL1
        orr     x0, x0, #1
        msr     S3_0_C12_C12_5, x0
        isb
        mov     x0, #0xff
        msr     S3_0_C4_C6_0, x0        // ICC_PMR_EL1
        mov     x0, #1
        msr     S3_0_C12_C12_7, x0      // ICC_IGRPEN1_EL1
        isb

        // Virtual timer: fires 1 ms from now.
        mrs     x0, cntfrq_el0
        mov     x1, #1000
        udiv    x0, x0, x1
        adr     x1, period
        str     x0, [x1]
        mrs     x1, cntvct_el0
        add     x1, x1, x0
        msr     cntv_cval_el0, x1
        mov     x0, #1                  // CNTV_CTL_EL0.ENABLE, IMASK = 0
        msr     cntv_ctl_el0, x0
        isb

        ready   1, msg
        mov     x19, #0
        msr     daifclr, #3             // IRQ and FIQ unmasked
        b       loop

msg:    .asciz  "timer_irq: ready\n"

        .org    0x400
loop:
        add     x19, x19, #1
        str     x19, [x20]
        b       loop

        // Never reached by the guest itself: a debugger sets pc here to
        // single-step a WFI while the tick is pending (and masked by the step).
        .org    0x480
wfi_at: wfi
        add     x22, x22, #1
        b       loop

        .org    0x800
vectors:
        .rept   5                       // 0x000-0x200: current EL SP_EL0 (4), sync SP_ELx
        b       .
        .balign 0x80
        .endr
irq_el1h:                               // 0x280: IRQ, current EL with SP_ELx
        stp     x0, x1, [sp, #-32]!
        stp     x2, x3, [sp, #16]
        mrs     x0, S3_0_C12_C12_0      // ICC_IAR1_EL1: INTID, acknowledged
        cmp     x0, #1020
        b.hs    1f                      // 1020-1023: spurious, no EOI
        mrs     x1, tpidr_el1           // &ticks[c]
        ldr     x2, [x1]
        add     x2, x2, #1
        str     x2, [x1]
        adr     x1, period
        ldr     x2, [x1]
        mrs     x3, cntvct_el0
        add     x3, x3, x2
        msr     cntv_cval_el0, x3       // next tick: period from now
        msr     S3_0_C12_C12_1, x0      // ICC_EOIR1_EL1: drop priority, deactivate
1:      ldp     x2, x3, [sp, #16]
        ldp     x0, x1, [sp], #32
        eret
        .balign 0x80
        .rept   10                      // 0x300-0x780: FIQ, SError, lower ELs
        b       .
        .balign 0x80
        .endr

        .org    0x1000
counts: .space  16 * 8
ticks:  .space  16 * 8
period: .quad   0
gicd_on: .word  0                       // vCPU 0 has enabled the distributor
        .balign 16
stacks: .space  16 * 256
        guest_data
