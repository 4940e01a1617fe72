// Checked KVM_GET_ONE_REG / KVM_SET_ONE_REG on a vCPU fd.
//
// Contract: get_one_reg()/set_one_reg() transfer exactly kvm::reg_size(id)
// bytes between `buf` and register `id` of the vCPU behind `vcpu_fd`
// (Documentation/virt/kvm/api.rst, "KVM_GET_ONE_REG"/"KVM_SET_ONE_REG":
// struct kvm_one_reg has no size field, the size is encoded in the ID, so a
// wrong buffer size is refused here with EINVAL before any ioctl). Every
// failure is an Error carrying the ioctl's errno and a message that names
// the vCPU (`vcpu_index`, 0-based, only used for messages) and the register
// (kvm::reg_name), with the KVM meaning spelt out where api.rst defines one:
// EPERM on Z/P/FFR = "SVE not finalized yet" (KVM_ARM_VCPU_FINALIZE not
// done), EPERM on SVE_VLS writes = already finalized, ENOENT on SVE IDs or
// ZCR_EL1 = the vCPU was created without KVM_ARM_VCPU_SVE, ENOTTY/EBADF =
// the fd is not a KVM vCPU. The ioctl numbers are the arch-independent ones
// of <linux/kvm.h>, so this file builds and its error mapping is testable on
// any Linux host. The caller must not call these while the vCPU is inside
// KVM_RUN (the ioctl would block on the vCPU mutex until KVM_RUN returns).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.hpp"

namespace svedbg::kvm {

Status get_one_reg(int vcpu_fd, unsigned vcpu_index, std::uint64_t id, std::span<std::byte> out);
Status set_one_reg(int vcpu_fd, unsigned vcpu_index, std::uint64_t id, std::span<const std::byte> in);

// The Error get_one_reg (write = false) or set_one_reg (write = true)
// returns when the ioctl fails with `err`; exposed for tests.
Error one_reg_error(unsigned vcpu_index, std::uint64_t id, bool write, int err);

}  // namespace svedbg::kvm
