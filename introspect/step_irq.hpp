// introspect::StepIrq: single-steps that execute the stopped context's next
// instruction, not an interrupt handler ("steps that step", issue 16).
//
// Contract: a guest whose timer interrupt is pending whenever the debugger
// resumes it (a real Linux guest: its timer period is far shorter than a
// stop) takes that interrupt instead of executing the stepped instruction:
// the step ends on the IRQ vector (VBAR_EL1 + 0x280 from EL1, + 0x480 from
// EL0), and gdb's step over a breakpoint never gets past it. In mode Mask
// (the default) arm() sets PSTATE.I and PSTATE.F of each vCPU about to be
// single-stepped whose guest left either clear, and finish() restores them
// once the vCPUs stopped, correcting for the instruction that ran
// (step_daif.hpp: MSR DAIFSet/DAIFClr/DAIF, MRS DAIF, ERET, exceptions
// taken during the step) so that the guest never observes the mask.
// Registers go through the target's StopCache (reads batched, writes
// through to the backend), the instruction through guest memory at pc
// (translated by the vCPU's stage-1 tables), so every backend with run
// control (sim, in-process, attach) gets it. A vCPU whose pc or instruction
// cannot be read is stepped unmasked. Mode Off steps as the CPU does.
// `monitor step-irq [mask|off]` switches the mode and reports counts; it
// only tunes svedbg (allowed with --read-only).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/monitor.hpp"
#include "introspect/step_daif.hpp"
#include "introspect/stop_cache.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

class StepIrq {
 public:
  enum class Mode { Mask, Off };

  Mode mode() const { return mode_; }
  void set_mode(Mode m) { mode_ = m; }

  // Before the vCPUs in `step` resume for one instruction each (the cache
  // holds this stop's values). Best effort: a vCPU it cannot prepare is
  // stepped as it is.
  void arm(StopCache& cache, kvm::Backend& backend, std::span<const unsigned> step);
  // After the vCPUs stopped (the cache was invalidated since they ran):
  // fixes every vCPU arm() masked and forgets it.
  void finish(StopCache& cache);
  // Forgets masked vCPUs without touching them (kill resets the guest).
  void forget() { armed_.clear(); }
  bool armed() const { return !armed_.empty(); }

  // "step-irq [mask|off]".
  void add_monitor_commands(MonitorRegistry& registry);
  std::string report() const;

 private:
  struct Armed {
    unsigned vcpu;
    StepBefore before;
  };
  void finish_one(StopCache& cache, const Armed& a);

  Mode mode_ = Mode::Mask;
  std::vector<Armed> armed_;
  // Counts for `monitor step-irq`.
  std::uint64_t masked_ = 0, unmasked_ = 0, exceptions_ = 0, erets_ = 0, daif_insns_ = 0, errors_ = 0;
};

}  // namespace svedbg::introspect
