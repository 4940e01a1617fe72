// introspect::VcpuSubset: serves some of a backend's vCPUs (`svedbg serve
// --vcpus 0,2`), as if the guest had only those.
//
// Contract: wraps (and owns) another Backend. Served vCPU i is the inner
// backend's vCPU `vcpus[i]` (indices ascending, unique, each < the inner
// vcpu_count(); create() refuses anything else with a message naming the
// valid range) and keeps its name: vmm_index(i) is the inner backend's
// vmm_index(vcpus[i]). Registers, guest debug and stops are translated both
// ways; memory, monitor commands (whose vCPU numbers are the inner
// backend's) and run control pass through. Run control stays all-stop over
// the *whole* guest: vCPUs that are not served run and stop with the others
// (a VMM cannot stop half its vCPUs for long without the guest noticing
// lockups either way) but are never reported, and guest debug
// (breakpoints, stepping) is only set on served vCPUs, so a software
// breakpoint hit by an unserved vCPU is the guest's own BRK exception. A
// stop that an unserved vCPU reports (an interrupt) is reported on served
// vCPU 0; the reason is kept.
#pragma once

#include <memory>
#include <vector>

#include "kvm/backend.hpp"

namespace svedbg::introspect {

class VcpuSubset final : public kvm::Backend, public kvm::RunControl {
 public:
  static Result<std::unique_ptr<VcpuSubset>> create(std::unique_ptr<kvm::Backend> inner, std::vector<unsigned> vcpus);

  // The inner backend's index of served vCPU `i`.
  unsigned inner_index(unsigned i) const { return vcpus_.at(i); }

  std::string name() const override { return inner_->name(); }
  unsigned vcpu_count() const override { return static_cast<unsigned>(vcpus_.size()); }
  unsigned vmm_index(unsigned vcpu) const override { return inner_->vmm_index(inner_index(vcpu)); }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override;
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override;
  void get_regs(std::span<RegRead> reads) override;
  bool batches_reads() const override { return inner_->batches_reads(); }
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override {
    return inner_->read_phys(gpa, out);
  }
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override {
    return inner_->write_phys(gpa, in);
  }
  std::vector<kvm::MemoryRange> memory_map() const override { return inner_->memory_map(); }
  // Run control when the inner backend has it (translated), else none.
  kvm::RunControl* run_control() override { return inner_run_ ? this : nullptr; }
  void add_monitor_commands(MonitorRegistry& registry) override { inner_->add_monitor_commands(registry); }
  Detached detach() override { return inner_->detach(); }

  // RunControl (only reachable through run_control(), so inner_run_ is set)
  Status set_guest_debug(unsigned vcpu, const kvm::GuestDebug& debug) override;
  kvm::DebugCaps debug_caps() const override { return inner_run_->debug_caps(); }
  Status resume(std::span<const unsigned> step, bool others_run) override;
  void interrupt() override { inner_run_->interrupt(); }
  std::optional<kvm::BackendStop> poll_stop() override;
  bool running() const override { return inner_run_->running(); }
  void set_stop_notifier(std::function<void()> notify) override { inner_run_->set_stop_notifier(std::move(notify)); }
  void kill() override { inner_run_->kill(); }

 private:
  VcpuSubset(std::unique_ptr<kvm::Backend> inner, std::vector<unsigned> vcpus)
      : inner_(std::move(inner)), inner_run_(inner_->run_control()), vcpus_(std::move(vcpus)) {}
  Result<unsigned> inner_of(unsigned vcpu) const;

  std::unique_ptr<kvm::Backend> inner_;
  kvm::RunControl* inner_run_;  // the inner backend's run control, or nullptr
  std::vector<unsigned> vcpus_;
};

// "0,2,5-7" -> {0, 2, 5, 6, 7}: the --vcpus option. Ascending, no repeats.
Result<std::vector<unsigned>> parse_vcpu_list(std::string_view text);

}  // namespace svedbg::introspect
