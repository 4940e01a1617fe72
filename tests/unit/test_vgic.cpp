// kvm/inprocess/vgic.hpp: the layout checks made before any ioctl, and the
// errors of the ioctls themselves. Runs on any host: /dev/null answers the
// KVM ioctls with ENOTTY.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kvm/inprocess/vgic.hpp"

using namespace svedbg;

namespace {
struct Fd {
  int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ~Fd() { ::close(fd); }
};
const std::vector<kvm::GuestRange> kTaken = {{0x40000000, 16 << 20, "guest RAM"}, {0x09000000, 0x1000, "console"}};
}  // namespace

TEST_CASE("vgic layout: svedbg-vmm's default fits up to 123 vCPUs below the console page", "[vgic]") {
  CHECK(kvm::check_vgic_layout({}, 1, kTaken));
  CHECK(kvm::check_vgic_layout({}, 123, kTaken));
  auto s = kvm::check_vgic_layout({}, 124, kTaken);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  CHECK(s.error().message == "vGICv3: redistributors 0x80a0000+0xf80000 (124 vCPUs) overlap console 0x9000000+0x1000");
}

TEST_CASE("vgic layout: refuses overlaps, misalignment and bad IRQ counts", "[vgic]") {
  kvm::VgicV3Layout l;
  l.dist = 0x40000000;
  auto s = kvm::check_vgic_layout(l, 1, kTaken);
  REQUIRE_FALSE(s);
  CHECK(s.error().message == "vGICv3: distributor 0x40000000+0x10000 overlaps guest RAM 0x40000000+0x1000000");
  l = {};
  l.redist = 0x08008000;
  s = kvm::check_vgic_layout(l, 1, kTaken);
  REQUIRE_FALSE(s);
  CHECK(s.error().message == "vGICv3: distributor 0x8000000 / redistributors 0x8008000: bases must be 64 KiB aligned");
  l = {};
  l.redist = 0x08000000 + 0x10000;  // right after the distributor: fine
  CHECK(kvm::check_vgic_layout(l, 2, kTaken));
  l.redist = 0x07ff0000;  // vCPU 0's frames cover the distributor
  s = kvm::check_vgic_layout(l, 1, kTaken);
  REQUIRE_FALSE(s);
  CHECK(s.error().message == "vGICv3: distributor 0x8000000+0x10000 overlaps the redistributors 0x7ff0000+0x20000");
  for (unsigned n : {0u, 32u, 65u, 1056u}) {
    l = {};
    l.nr_irqs = n;
    s = kvm::check_vgic_layout(l, 1, kTaken);
    REQUIRE_FALSE(s);
    CHECK(s.error().message == "vGICv3: " + std::to_string(n) + " interrupts: a multiple of 32 in 64..1024");
  }
  CHECK_FALSE(kvm::check_vgic_layout({}, 0, kTaken));
}

TEST_CASE("vgic create: a bad layout fails before the ioctl, an ioctl failure names it with errno", "[vgic]") {
  kvm::VgicV3Layout l;
  l.dist = 0x40000000;
  // fd -1 would give EBADF if the ioctl were issued: EINVAL proves it was not.
  auto bad = kvm::create_vgic_v3(-1, 1, l, kTaken);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EINVAL);
  Fd null;
  auto r = kvm::create_vgic_v3(null.fd, 1, {}, kTaken);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ENOTTY);
  CHECK(r.error().message == "vGICv3: KVM_CREATE_DEVICE KVM_DEV_TYPE_ARM_VGIC_V3: Inappropriate ioctl for device");
}
