// kvm/vls.hpp: the KVM_REG_ARM64_SVE_VLS bitmap and the effective-VL rule.
#include <array>
#include <cstddef>

#include <catch2/catch.hpp>

#include "kvm/vls.hpp"

using svedbg::kvm::effective_vq;
using svedbg::kvm::VqSet;
using svedbg::kvm::zcr_for_vq;

TEST_CASE("VqSet bits follow KVM's vqs[] layout", "[vls]") {
  VqSet s;
  CHECK(s.empty());
  CHECK(s.max() == 0);
  CHECK(s.min() == 0);
  CHECK(s.count() == 0);
  s.set(1);
  CHECK(s.words[0] == 0x1);
  s.set(16);
  CHECK(s.words[0] == 0x8001);
  s.set(64);
  s.set(65);
  s.set(512);
  CHECK(s.words[0] == 0x8000000000008001ULL);
  CHECK(s.words[1] == 0x1);
  CHECK(s.words[7] == 0x8000000000000000ULL);
  CHECK(s.has(65));
  CHECK_FALSE(s.has(2));
  CHECK(s.max() == 512);
  CHECK(s.min() == 1);
  CHECK(s.count() == 5);
  CHECK(s.list() == std::vector<unsigned>{1, 16, 64, 65, 512});
  s.clear(512);
  s.clear(1);
  CHECK(s.max() == 65);
  CHECK(s.min() == 16);
  // Out of range: ignored / absent.
  s.set(0);
  s.set(513);
  CHECK_FALSE(s.has(0));
  CHECK_FALSE(s.has(513));
  CHECK(s.count() == 3);
  s.clear(0);
  CHECK(s.count() == 3);
}

TEST_CASE("VqSet::range and equality", "[vls]") {
  const VqSet all = VqSet::range(1, 16);
  CHECK(all.words[0] == 0xffff);  // what the verified nested host reports
  CHECK(all.count() == 16);
  CHECK(VqSet::range(3, 2).empty());
  CHECK(VqSet::range(0, 2) == VqSet::range(1, 2));
  CHECK(VqSet::range(510, 600).max() == 512);
  VqSet s;
  s.set(1);
  s.set(2);
  CHECK(s == VqSet::range(1, 2));
  CHECK_FALSE(s == all);
}

TEST_CASE("VqSet::to_string", "[vls]") {
  CHECK(VqSet{}.to_string() == "none");
  CHECK(VqSet::range(1, 16).to_string() == "128-2048 bits");
  CHECK(VqSet::range(1, 4).to_string() == "128-512 bits");
  CHECK(VqSet::range(1, 2).to_string() == "128,256 bits");
  VqSet s;
  s.set(1);
  s.set(2);
  s.set(4);
  CHECK(s.to_string() == "128,256,512 bits");
  s.set(8);
  s.set(9);
  s.set(10);
  CHECK(s.to_string() == "128,256,512,1024-1280 bits");
}

TEST_CASE("VqSet byte image is the little-endian vqs[8]", "[vls]") {
  VqSet s;
  s.set(1);
  s.set(10);
  s.set(66);
  std::array<std::byte, 64> buf{};
  s.to_bytes(buf);
  CHECK(buf[0] == std::byte{0x01});
  CHECK(buf[1] == std::byte{0x02});  // vq 10 = bit 9
  CHECK(buf[8] == std::byte{0x02});  // vq 66 = word 1 bit 1
  for (std::size_t i : {2, 3, 7, 9, 63}) CHECK(buf[i] == std::byte{0});
  CHECK(VqSet::from_bytes(buf) == s);
}

TEST_CASE("effective_vq: largest enabled vq <= LEN+1", "[vls]") {
  const VqSet all = VqSet::range(1, 16);
  CHECK(effective_vq(all, 0) == 1);
  CHECK(effective_vq(all, 3) == 4);
  CHECK(effective_vq(all, 15) == 16);
  // Only LEN (bits 3:0) counts.
  CHECK(effective_vq(all, 0x1f3) == 4);

  // Capped by the vCPU's maximum.
  CHECK(effective_vq(VqSet::range(1, 4), 15) == 4);

  // Unimplemented lengths round down (a host with 128, 256, 512 only).
  VqSet pow2;
  pow2.set(1);
  pow2.set(2);
  pow2.set(4);
  CHECK(effective_vq(pow2, 2) == 2);  // 384 requested -> 256
  CHECK(effective_vq(pow2, 3) == 4);
  CHECK(effective_vq(pow2, 7) == 4);

  // Nothing <= request: the smallest enabled (cannot happen on real KVM).
  CHECK(effective_vq(VqSet::range(2, 4), 0) == 2);
  CHECK(effective_vq(VqSet{}, 3) == 0);
}

TEST_CASE("zcr_for_vq", "[vls]") {
  CHECK(zcr_for_vq(1) == 0);
  CHECK(zcr_for_vq(4) == 3);
  CHECK(zcr_for_vq(16) == 15);
  CHECK(zcr_for_vq(0) == 0);
  CHECK(zcr_for_vq(17) == 15);
  for (unsigned vq = 1; vq <= 16; ++vq) CHECK(effective_vq(VqSet::range(1, 16), zcr_for_vq(vq)) == vq);
}
