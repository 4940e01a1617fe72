// KVM_GET_ONE_REG / KVM_SET_ONE_REG (see one_reg.hpp). Errno meanings are
// from Documentation/virt/kvm/api.rst ("KVM_SET_ONE_REG" errors, "SVE" and
// "KVM_ARM_VCPU_FINALIZE") and arch/arm64/kvm/guest.c.
#include "kvm/one_reg.hpp"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "kvm/reg_id.hpp"

namespace svedbg::kvm {
namespace {

const char* ioctl_name(bool write) { return write ? "KVM_SET_ONE_REG" : "KVM_GET_ONE_REG"; }

bool is_sve_state(std::uint64_t id) { return is_sve_zreg(id) || is_sve_preg(id) || is_sve_ffr(id); }

Status transfer(int fd, unsigned vcpu, std::uint64_t id, void* buf, std::size_t size, bool write) {
  if (size != reg_size(id))
    return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", vcpu, size, reg_name(id), reg_size(id));
  struct kvm_one_reg reg {};
  reg.id = id;
  reg.addr = reinterpret_cast<std::uintptr_t>(buf);
  int rc = 0;
  do {
    rc = ::ioctl(fd, write ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, &reg);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return one_reg_error(vcpu, id, write, errno);
  return {};
}

}  // namespace

Error one_reg_error(unsigned vcpu, std::uint64_t id, bool write, int err) {
  const std::string name = reg_name(id);
  const bool sve_id = is_sve(id) || id == zcr_el1();
  switch (err) {
    case EPERM:
      // api.rst, KVM_ARM_VCPU_FINALIZE: Z/P/FFR accesses fail with EPERM
      // until the vCPU is finalized; SVE_VLS writes fail with EPERM after.
      if (is_sve_vls(id) && write)
        return make_error(EPERM, "vCPU {}: SVE already finalized, vector lengths are frozen ({})", vcpu, name);
      if (is_sve_state(id)) return make_error(EPERM, "vCPU {}: SVE not finalized yet ({})", vcpu, name);
      break;
    case ENOENT:
      // api.rst, KVM_SET_ONE_REG: "ENOENT: no such register"; for the SVE
      // IDs and ZCR_EL1 that means the vCPU was created without
      // KVM_ARM_VCPU_SVE (they are hidden, arch/arm64/kvm/guest.c).
      if (sve_id) return make_error(ENOENT, "vCPU {} has no SVE ({})", vcpu, name);
      return make_error(ENOENT, "vCPU {}: KVM has no register {}", vcpu, name);
    case EINVAL:
      // FPSIMD V-registers are rejected on SVE vCPUs (the Z registers own
      // that state): "KVM: arm64: Reject ioctl access to FPSIMD V-regs on
      // SVE vcpus".
      if (is_core(id) && name.size() > 1 && name[0] == 'v')
        return make_error(EINVAL, "vCPU {}: {} {}: invalid (FPSIMD V-registers are not accessible on an SVE vCPU)",
                          vcpu, ioctl_name(write), name);
      break;
    case ENOTTY:
    case EBADF:
      return make_error(err, "vCPU {}: {} {}: the fd is not a KVM vCPU ({})", vcpu, ioctl_name(write), name,
                        std::strerror(err));
    default: break;
  }
  return make_error(err, "vCPU {}: {} {}: {}", vcpu, ioctl_name(write), name, std::strerror(err));
}

Status get_one_reg(int vcpu_fd, unsigned vcpu_index, std::uint64_t id, std::span<std::byte> out) {
  return transfer(vcpu_fd, vcpu_index, id, out.data(), out.size(), false);
}

Status set_one_reg(int vcpu_fd, unsigned vcpu_index, std::uint64_t id, std::span<const std::byte> in) {
  // KVM only reads from addr for SET; the cast drops const for the struct field.
  return transfer(vcpu_fd, vcpu_index, id, const_cast<std::byte*>(in.data()), in.size(), true);
}

}  // namespace svedbg::kvm
