// KVM ioctls injected into the VMM one per trip (see injected_calls.hpp).
#if defined(__aarch64__)

#include "kvm/attach/injected_calls.hpp"

#include <linux/kvm.h>

#include <cstring>

#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::kvm {

Result<long> Injector::ioctl(int fd, unsigned long req, std::vector<std::byte>& block, bool self_ptr) {
  Trip trip(parts_, Trip::Kind::Call);
  if (!trip.status()) return trip.status().error();
  const user_pt_regs& saved = trip.saved();
  const std::uint64_t base = (saved.sp - 4096 - block.size()) & ~std::uint64_t{15};
  if (self_ptr) {
    const std::uint64_t p = base + 16;
    std::memcpy(block.data() + 8, &p, sizeof p);
  }
  if (trip.write_scratch(base, block) != Trip::Scratch::Written)
    return make_error(EFAULT, "thread {}: cannot use the stack below sp {:#x} as scratch", trip.thread(), saved.sp);
  user_pt_regs r = saved;
  r.regs[8] = kArm64NrIoctl;
  r.regs[0] = static_cast<std::uint64_t>(fd);
  r.regs[1] = req;
  r.regs[2] = base;
  auto rval = trip.run_call(svc_, r);
  if (!rval) return rval.error();
  parts_.counters.count_ioctl();
  if (!trip.read(base, block)) return -EFAULT;
  return *rval;
}

Status Injector::one_reg(unsigned v, std::uint64_t id, std::span<std::byte> data, bool write) {
  const std::size_t size = reg_size(id);
  if (data.size() != size)
    return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", v, data.size(), reg_name(id), size);
  std::vector<std::byte> block(16 + size);
  std::memcpy(block.data(), &id, sizeof id);
  if (write) std::memcpy(block.data() + 16, data.data(), size);
  auto r = ioctl(vcpus_[v].fd, write ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, block, true);
  if (!r) return r.error();
  if (!write && parts_.cost.reading()) parts_.cost.count_reg_ioctl();
  if (*r < 0) return one_reg_error(v, id, write, static_cast<int>(-*r));
  if (!write) std::memcpy(data.data(), block.data() + 16, size);
  return {};
}

Status Injector::apply_debug(unsigned v, const GuestDebug& d) {
  kvm_guest_debug g{};
  g.control = d.control;
  for (unsigned i = 0; i < GuestDebug::kMaxHw && i < KVM_ARM_MAX_DBG_REGS; ++i) {
    g.arch.dbg_bcr[i] = d.bcr[i];
    g.arch.dbg_bvr[i] = d.bvr[i];
    g.arch.dbg_wcr[i] = d.wcr[i];
    g.arch.dbg_wvr[i] = d.wvr[i];
  }
  std::vector<std::byte> block(sizeof g);
  std::memcpy(block.data(), &g, sizeof g);
  auto r = ioctl(vcpus_[v].fd, KVM_SET_GUEST_DEBUG, block, false);
  if (!r) return r.error();
  if (*r < 0)
    return make_error(static_cast<int>(-*r), "vCPU {}: KVM_SET_GUEST_DEBUG: {}", v,
                      std::strerror(static_cast<int>(-*r)));
  applied_[v] = d;
  return {};
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
