// The in-kernel vGICv3 (see vgic.hpp).
#include "kvm/inprocess/vgic.hpp"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace svedbg::kvm {
namespace {

// arch/arm64/include/uapi/asm/kvm.h (arm64 only, hence spelled out here so
// the unit tests build on any host; checked against the header on arm64).
constexpr std::uint32_t kGrpAddr = 0;     // KVM_DEV_ARM_VGIC_GRP_ADDR
constexpr std::uint32_t kGrpNrIrqs = 3;   // KVM_DEV_ARM_VGIC_GRP_NR_IRQS
constexpr std::uint32_t kGrpCtrl = 4;     // KVM_DEV_ARM_VGIC_GRP_CTRL
constexpr std::uint64_t kCtrlInit = 0;    // KVM_DEV_ARM_VGIC_CTRL_INIT
constexpr std::uint64_t kAddrDist = 2;    // KVM_VGIC_V3_ADDR_TYPE_DIST
constexpr std::uint64_t kAddrRedist = 3;  // KVM_VGIC_V3_ADDR_TYPE_REDIST
#if defined(__aarch64__)
static_assert(kGrpAddr == KVM_DEV_ARM_VGIC_GRP_ADDR && kGrpNrIrqs == KVM_DEV_ARM_VGIC_GRP_NR_IRQS &&
              kGrpCtrl == KVM_DEV_ARM_VGIC_GRP_CTRL && kCtrlInit == KVM_DEV_ARM_VGIC_CTRL_INIT);
static_assert(kAddrDist == KVM_VGIC_V3_ADDR_TYPE_DIST && kAddrRedist == KVM_VGIC_V3_ADDR_TYPE_REDIST);
#endif

bool overlap(std::uint64_t a, std::uint64_t an, std::uint64_t b, std::uint64_t bn) { return a < b + bn && b < a + an; }

Error ioctl_error(int err, const std::string& what) {
  std::string hint;
  if (err == ENODEV) hint = " (the host has no GICv3 KVM can virtualize)";
  if (err == EEXIST) hint = " (the VM already has an interrupt controller)";
  if (err == EBUSY) hint = " (a vCPU has already run)";
  return make_error(err, "vGICv3: {}: {}{}", what, std::strerror(err), hint);
}

Status set_attr(int dev_fd, std::uint32_t group, std::uint64_t attr, const void* value, const std::string& what) {
  struct kvm_device_attr a {};
  a.group = group;
  a.attr = attr;
  a.addr = reinterpret_cast<std::uintptr_t>(value);
  if (::ioctl(dev_fd, KVM_SET_DEVICE_ATTR, &a) < 0) return ioctl_error(errno, "KVM_SET_DEVICE_ATTR " + what);
  return {};
}

}  // namespace

Status check_vgic_layout(const VgicV3Layout& layout, unsigned vcpus, std::span<const GuestRange> taken) {
  if (vcpus == 0) return make_error(EINVAL, "vGICv3: no vCPUs");
  if (layout.nr_irqs < 64 || layout.nr_irqs > 1024 || layout.nr_irqs % 32 != 0)
    return make_error(EINVAL, "vGICv3: {} interrupts: a multiple of 32 in 64..1024", layout.nr_irqs);
  if (layout.dist % kGicAlign != 0 || layout.redist % kGicAlign != 0)
    return make_error(EINVAL, "vGICv3: distributor {:#x} / redistributors {:#x}: bases must be 64 KiB aligned",
                      layout.dist, layout.redist);
  const std::uint64_t redist_size = std::uint64_t{vcpus} * kGicrPerVcpu;
  if (layout.redist + redist_size < layout.redist)
    return make_error(EINVAL, "vGICv3: redistributors at {:#x} wrap around", layout.redist);
  if (overlap(layout.dist, kGicdSize, layout.redist, redist_size))
    return make_error(EINVAL, "vGICv3: distributor {:#x}+{:#x} overlaps the redistributors {:#x}+{:#x}", layout.dist,
                      kGicdSize, layout.redist, redist_size);
  for (const auto& r : taken) {
    if (overlap(layout.dist, kGicdSize, r.base, r.size))
      return make_error(EINVAL, "vGICv3: distributor {:#x}+{:#x} overlaps {} {:#x}+{:#x}", layout.dist, kGicdSize,
                        r.name, r.base, r.size);
    if (overlap(layout.redist, redist_size, r.base, r.size))
      return make_error(EINVAL, "vGICv3: redistributors {:#x}+{:#x} ({} vCPUs) overlap {} {:#x}+{:#x}", layout.redist,
                        redist_size, vcpus, r.name, r.base, r.size);
  }
  return {};
}

Result<UniqueFd> create_vgic_v3(int vm_fd, unsigned vcpus, const VgicV3Layout& layout,
                                std::span<const GuestRange> taken) {
  if (auto s = check_vgic_layout(layout, vcpus, taken); !s) return s.error();
  struct kvm_create_device cd {};
  cd.type = KVM_DEV_TYPE_ARM_VGIC_V3;
  if (::ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
    return ioctl_error(errno, "KVM_CREATE_DEVICE KVM_DEV_TYPE_ARM_VGIC_V3");
  UniqueFd dev(static_cast<int>(cd.fd));
  const std::uint64_t dist = layout.dist;
  const std::uint64_t redist = layout.redist;
  const std::uint32_t nr_irqs = layout.nr_irqs;
  if (auto s = set_attr(dev.get(), kGrpAddr, kAddrDist, &dist, fmt::format("KVM_VGIC_V3_ADDR_TYPE_DIST = {:#x}", dist));
      !s)
    return s.error();
  if (auto s = set_attr(dev.get(), kGrpAddr, kAddrRedist, &redist,
                        fmt::format("KVM_VGIC_V3_ADDR_TYPE_REDIST = {:#x}", redist));
      !s)
    return s.error();
  if (auto s = set_attr(dev.get(), kGrpNrIrqs, 0, &nr_irqs, fmt::format("KVM_DEV_ARM_VGIC_GRP_NR_IRQS = {}", nr_irqs));
      !s)
    return s.error();
  // After every vCPU exists: KVM sizes the per-vCPU state and checks each
  // vCPU has a redistributor frame here (vgic_init(), kvm_vgic_map_resources()).
  if (auto s = set_attr(dev.get(), kGrpCtrl, kCtrlInit, nullptr, "KVM_DEV_ARM_VGIC_CTRL_INIT"); !s) return s.error();
  return dev;
}

}  // namespace svedbg::kvm
