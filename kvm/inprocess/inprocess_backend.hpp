// kvm::InProcessBackend: the Backend of a VM whose VMM links
// svedbg (libsvedbg) and hands it its own vCPU fds and guest memory.
//
// Contract: registers go through KVM_GET_ONE_REG / KVM_SET_ONE_REG on the
// VMM's vCPU fds (kvm/one_reg.hpp), which KVM only accepts from the VM's
// own process (Documentation/virt/kvm/api.rst: vCPU ioctls from another mm
// fail), hence in-process. They are only issued while that vCPU is parked
// by the VcpuGate (EBUSY otherwise: an ioctl on a vCPU inside KVM_RUN would
// block on the vCPU mutex). KVM_REG_ARM64_SVE_VLS is read once per vCPU at
// construction (it is frozen by KVM_ARM_VCPU_FINALIZE, which the VMM must
// have done before) and served from that copy at any time, ENOENT kept for
// vCPUs without SVE; VLS writes are EPERM as after finalization. Errors
// carry KVM's errno and name the vCPU and register (the same errno
// semantics introspect::SimBackend models). Guest-physical memory is the
// VMM's memory regions (gpa, hva, size): reads and writes cross adjacent
// regions and stop short at the first unmapped byte; EFAULT when nothing at
// the address is RAM. Run control is the gate's (all-stop, see
// vcpu_gate.hpp); the VMM's vCPU threads call gate().before_run/on_exit.
// Breakpoints/watchpoints: set_guest_debug() is KVM_SET_GUEST_DEBUG
// through the gate (single-step is added on top when stepping); debug_caps()
// asks /dev/kvm for KVM_CAP_SET_GUEST_DEBUG and KVM_CAP_GUEST_DEBUG_HW_BPS/
// _WPS once at construction. detach() clears guest debug and lets every
// vCPU run. kill(): the VM
// belongs to the VMM, so the backend calls the VMM's on_kill callback when
// it gave one (svedbg-vmm exits), otherwise it logs and resumes the guest
// exactly like detach(). No monitor commands of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "kvm/inprocess/vcpu_gate.hpp"
#include "kvm/vls.hpp"

namespace svedbg::kvm {

struct MemoryRegion {
  std::uint64_t gpa = 0;  // guest-physical base (KVM_SET_USER_MEMORY_REGION guest_phys_addr)
  void* hva = nullptr;    // where the VMM mapped it (userspace_addr)
  std::size_t size = 0;   // bytes (memory_size)
};

struct InProcessOptions {
  int kick_signal = 0;                          // 0: SIGRTMIN + 6 (see VcpuGate)
  bool hold_at_start = false;                   // vCPUs park at their first before_run()
  std::function<void()> on_kill;                // gdb's `kill`; empty: resume (like detach)
  std::function<void(const std::string&)> log;  // empty: stderr
};

class InProcessBackend final : public Backend, public RunControl, public VcpuRunControl {
 public:
  // Reads every vCPU's SVE_VLS (the vCPUs must be finalized and not inside
  // KVM_RUN: call before the vCPU threads start). Errors other than ENOENT
  // (no SVE) are returned.
  static Result<std::unique_ptr<InProcessBackend>> create(std::vector<GateVcpu> vcpus, std::vector<MemoryRegion> memory,
                                                          InProcessOptions options = {});

  VcpuGate& gate() { return gate_; }

  std::string name() const override { return "kvm"; }
  unsigned vcpu_count() const override { return gate_.size(); }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override;
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override;
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override;
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override;
  std::vector<MemoryRange> memory_map() const override;
  Status set_guest_debug(unsigned vcpu, const GuestDebug& debug) override;
  DebugCaps debug_caps() const override { return caps_; }
  Status resume(std::span<const unsigned> step, bool others_run) override;
  void interrupt() override;
  std::optional<BackendStop> poll_stop() override;
  bool running() const override;
  void set_stop_notifier(std::function<void()> notify) override;
  RunControl* run_control() override { return this; }
  // Non-stop: the gate holds and kicks one vCPU thread at a time.
  VcpuRunControl* vcpu_control() override { return this; }
  Status set_non_stop(bool on) override { return gate_.set_non_stop(on); }
  Status resume_vcpu(unsigned vcpu, bool step) override { return gate_.resume_vcpu(vcpu, step); }
  Status stop_vcpu(unsigned vcpu) override { return gate_.stop_vcpu(vcpu); }
  bool vcpu_running(unsigned vcpu) const override { return gate_.vcpu_running(vcpu); }
  bool debug_while_running() const override { return true; }  // VcpuGate kicks and re-applies
  Detached detach() override;
  void kill() override;

 private:
  InProcessBackend(std::vector<GateVcpu> vcpus, std::vector<MemoryRegion> memory, InProcessOptions options);
  Status check_vcpu(unsigned vcpu) const;
  void log(const std::string& line) const;
  // Bytes of guest RAM starting at gpa that lie in one region.
  std::optional<std::span<std::byte>> region_at(std::uint64_t gpa) const;

  InProcessOptions options_;
  VcpuGate gate_;
  std::vector<MemoryRegion> memory_;
  std::vector<std::optional<VqSet>> vls_;  // nullopt: no SVE (ENOENT)
  DebugCaps caps_;
};

}  // namespace svedbg::kvm
