#include "introspect/sim/sim_fixture.hpp"

namespace svedbg::introspect {

std::string_view sim_fixture_text() {
  return R"(The simulated guest (--sim) models the KVM register API: the VLS bitmap,
finalization, registers stored at the maximum VL and zero-padded, the
effective VL from ZCR_EL1. The default fixture:
- 4 vCPUs (gdb threads 1..4), enabled VLs 128..2048 bits (VLS vq 1..16),
  effective VL of vCPU c = 2048, 512, 128, 256 bits for c = 0, 1, 2, 3.
- For vCPU c with an effective VL of L bytes:
  byte b of Zn = (c*37 + n*11 + b) mod 256 for b < L, zero above;
  byte b of Pn = (c*5 + n*3 + b) mod 256 for b < L/8, zero above;
  FFR = 0xff for b < L/8, zero above;
  xN = 0x1000*c + N; sp = 0x80000000 + 0x1000*c; pc = 0x40000000;
  cpsr = 0x3c5 (EL1h, DAIF masked); fpsr = fpcr = 0; ZCR_EL1.LEN = L/16 - 1.
  A vCPU configured without SVE (SimConfig::sve) has vN = the low 16
  bytes of the Z formula. MIDR_EL1 = 0x410fd4f0 (Neoverse V2),
  MPIDR_EL1 = 0x80000000 | c, SCTLR_EL1 = 0x30d00800 (MMU off), other
  system registers 0.
- RAM: 1 MiB at 0x40000000, MMU off (addresses are physical). Bytes
  0x40000000..0x40000ffb hold NOP instructions (0xd503201f), 0x40000ffc
  holds `b .` (0x14000000); at offset o >= 0x1000 the byte is o mod 251.
- The guest program: each NOP does pc += 4, x0 += 1; `b .` spins. A
  single-step executes one instruction of that vCPU only. `continue` runs
  every vCPU, one instruction each in turn, until a breakpoint (software
  `break`, hardware `hbreak`) or Ctrl-C; after a `detach` the guest runs
  on. The CPU also executes STR Xt, [Xn, #imm] (which hardware `watch`
  points catch), MSR DAIFSet/DAIFClr, MSR/MRS DAIF, SVC and ERET; other
  instructions (or a BRK without the debugger) take an exception to
  VBAR_EL1 + 0x200 as the architecture says. `kill` resets the guest to
  this fixture.
- `monitor sim irq every N` adds a timer interrupt (off by default): an
  IRQ pending on each vCPU every N instructions it executes and at every
  resume, taken while PSTATE.I is clear to VBAR_EL1 + 0x280 (EL1h), + 0x480
  (EL0) or + 0x080 (EL1t), with ELR_EL1 and SPSR_EL1 set.
- `monitor sim set-vl VCPU BITS` (VCPU 0-based = gdb thread VCPU+1) writes
  ZCR_EL1 as the guest would; Z/P/FFR bytes above the new VL become zero.
- `--sim-vcpus`, `--sim-max-vl`, `--sim-vl` (a list of effective VLs,
  cycled over the vCPUs) and `--sim-mem` change the fixture.
)";
}

}  // namespace svedbg::introspect
