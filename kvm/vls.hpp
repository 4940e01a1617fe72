// SVE vector-length sets (the KVM_REG_ARM64_SVE_VLS bitmap) and ZCR_EL1.
//
// Contract: VqSet holds exactly the payload of KVM_REG_ARM64_SVE_VLS
// (arch/arm64/include/uapi/asm/kvm.h; Documentation/virt/kvm/api.rst,
// "KVM_REG_ARM64_SVE_VLS"): __u64 vqs[KVM_ARM64_SVE_VLS_WORDS = 8], where
// vector length vq*128 bits is present iff bit (vq-1) % 64 of word
// (vq-1) / 64 is set, for vq 1..512 (KVM_ARM64_SVE_VQ_MIN..MAX). The
// architecture caps VL at 2048 bits, so KVM only ever reports or accepts
// vq 1..16. Out-of-range vq arguments are ignored by set/clear and absent
// for has(). to_bytes/from_bytes convert to/from the 64-byte ONE_REG buffer
// (little-endian words, the arm64 host byte order). effective_vq() applies
// the architectural rule that turns ZCR_EL1.LEN into the vector length the
// guest actually computes with.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace svedbg::kvm {

struct VqSet {
  std::array<std::uint64_t, 8> words{};

  bool has(unsigned vq) const;
  void set(unsigned vq);
  void clear(unsigned vq);
  unsigned max() const;                // 0 when empty
  unsigned min() const;                // 0 when empty
  std::vector<unsigned> list() const;  // ascending
  std::size_t count() const;
  bool empty() const;
  // {lo..hi} inclusive, clipped to 1..512; empty when lo > hi.
  static VqSet range(unsigned lo, unsigned hi);
  // "128-2048 bits" for vq 1..16, "128,256,512 bits" for {1,2,4}; runs of
  // three or more consecutive vqs are written lo-hi; "none" when empty.
  std::string to_string() const;

  void to_bytes(std::span<std::byte, 64> out) const;
  static VqSet from_bytes(std::span<const std::byte, 64> in);

  bool operator==(const VqSet&) const = default;
};

// ZCR_ELx.LEN, bits [3:0]: requested vector length = (LEN + 1) * 128 bits.
inline constexpr std::uint64_t kZcrLenMask = 0xf;

// The effective vq for a vCPU whose enabled lengths are `enabled` and whose
// guest wrote `zcr_el1`. The Arm ARM (DDI 0487, "Configurable vector length",
// and ZCR_EL1.LEN) says a requested length that the implementation does not
// support is rounded down to the largest supported length not above it; KVM
// additionally caps the request at the vCPU's maximum through ZCR_EL2, which
// the same rule expresses because `enabled` stops there. 128 bits (vq 1) is
// mandatory in hardware and KVM refuses a VLS without it below the maximum,
// so "no enabled vq <= request" cannot happen on a real vCPU; for such sets
// we return the smallest enabled vq, and 0 for an empty set.
unsigned effective_vq(const VqSet& enabled, std::uint64_t zcr_el1);

// A ZCR_EL1 value whose LEN requests `vq` (clamped to 1..16).
std::uint64_t zcr_for_vq(unsigned vq);

}  // namespace svedbg::kvm
