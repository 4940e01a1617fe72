// kvm::create_vgic_v3: an in-kernel GICv3 for a VM that a VMM builds
// itself (svedbg-vmm --gic), so that KVM delivers the vCPUs' own interrupts,
// above all the EL1 virtual timer (PPI 27, KVM's default), to the guest.
//
// Contract (Documentation/virt/kvm/devices/arm-vgic-v3.rst): called once,
// after every vCPU is created and initialized (KVM_ARM_VCPU_INIT, SVE
// finalized) and before any of them runs: KVM_CREATE_DEVICE
// KVM_DEV_TYPE_ARM_VGIC_V3, KVM_DEV_ARM_VGIC_GRP_ADDR for the distributor
// (64 KiB) and the redistributors (2 x 64 KiB frames per vCPU, contiguous,
// in vCPU id order), KVM_DEV_ARM_VGIC_GRP_NR_IRQS, then
// KVM_DEV_ARM_VGIC_GRP_CTRL / KVM_DEV_ARM_VGIC_CTRL_INIT, the order QEMU's
// hw/intc/arm_gicv3_kvm.c uses (vCPUs first). check_vgic_layout() refuses
// an unaligned base, a bad IRQ count and any overlap with the ranges the
// VMM already uses (RAM, MMIO) before a single ioctl. Every failure names
// the ioctl and attribute and carries the errno. The returned fd keeps the
// device; the vGIC lives as long as the VM anyway.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace svedbg::kvm {

inline constexpr std::uint64_t kGicdSize = 0x10000;     // KVM_VGIC_V3_DIST_SIZE (SZ_64K)
inline constexpr std::uint64_t kGicrPerVcpu = 0x20000;  // KVM_VGIC_V3_REDIST_SIZE (2 * SZ_64K: RD + SGI frames)
inline constexpr std::uint64_t kGicAlign = 0x10000;     // both bases 64 KiB aligned

struct VgicV3Layout {
  std::uint64_t dist = 0x08000000;    // GICD (QEMU virt's address)
  std::uint64_t redist = 0x080a0000;  // GICR of vCPU 0; vCPU i at + i * kGicrPerVcpu
  unsigned nr_irqs = 64;              // SGIs + PPIs (32) + SPIs: a multiple of 32 in 64..1024
};

// A guest-physical range the VMM already uses, named for the error message.
struct GuestRange {
  std::uint64_t base = 0;
  std::uint64_t size = 0;
  std::string name;
};

Status check_vgic_layout(const VgicV3Layout& layout, unsigned vcpus, std::span<const GuestRange> taken);

Result<UniqueFd> create_vgic_v3(int vm_fd, unsigned vcpus, const VgicV3Layout& layout,
                                std::span<const GuestRange> taken);

}  // namespace svedbg::kvm
