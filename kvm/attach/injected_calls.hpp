// kvm/attach/injected_calls: KVM ioctls run by the VMM for svedbg, one
// injected system call per trip (arm64 only).
//
// Why: KVM refuses vCPU ioctls from any process but the VM's owner (EIO),
// so each one is run by one of the VMM's own stopped threads (trip.hpp).
//
// Contract: ioctl(fd, req, block, self_ptr) runs ioctl(fd, req, SCRATCH):
// `block` is copied to SCRATCH (a block 4 KiB below the thread's sp, whose
// bytes are put back after) before the call and copied back after; with
// self_ptr, the u64 at offset 8 of `block` is made to point at SCRATCH + 16
// (struct kvm_one_reg.addr). Returns the raw x0 (0 or -errno) and counts one
// KVM ioctl. one_reg() is KVM_GET/SET_ONE_REG of vCPU v with get_one_reg's
// errors (kvm/one_reg.hpp). apply_debug() is KVM_SET_GUEST_DEBUG, and
// applied(v) what KVM has for vCPU v since attach.
#pragma once

#if defined(__aarch64__)

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/trip.hpp"
#include "kvm/backend.hpp"

namespace svedbg::kvm {

class Injector {
 public:
  // `vcpus` is final: found before the Injector is made.
  Injector(const TripParts& parts, const std::vector<VmmVcpu>& vcpus)
      : parts_(parts), vcpus_(vcpus), applied_(vcpus.size()) {}

  void set_syscall_site(std::uint64_t svc) { svc_ = svc; }
  Result<long> ioctl(int fd, unsigned long req, std::vector<std::byte>& block, bool self_ptr);
  Status one_reg(unsigned v, std::uint64_t id, std::span<std::byte> data, bool write);
  Status apply_debug(unsigned v, const GuestDebug& d);
  const GuestDebug& applied(unsigned v) const { return applied_[v]; }

 private:
  TripParts parts_;
  const std::vector<VmmVcpu>& vcpus_;
  std::uint64_t svc_ = 0;
  std::vector<GuestDebug> applied_;  // what KVM has per vCPU
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
