// kvm/one_reg.hpp: size check before the ioctl, errno -> message mapping.
// Runs on any host: /dev/null answers the KVM ioctls with ENOTTY.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>

#include <catch2/catch.hpp>

#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;

namespace {
struct Fd {
  int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ~Fd() { ::close(fd); }
};
}  // namespace

TEST_CASE("one_reg refuses a wrong buffer size before the ioctl", "[one_reg]") {
  std::array<std::byte, 8> small{};
  // fd -1 would give EBADF if the ioctl were issued: EINVAL proves it was not.
  auto s = kvm::get_one_reg(-1, 2, kvm::sve_zreg(5), small);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  CHECK(s.error().message == "vCPU 2: 8-byte buffer for z5 (256 bytes)");
  std::array<std::byte, 4> four{};
  auto w = kvm::set_one_reg(-1, 0, kvm::core_pc(), four);
  REQUIRE_FALSE(w);
  CHECK(w.error().code == EINVAL);
  CHECK(w.error().message == "vCPU 0: 4-byte buffer for pc (8 bytes)");
}

TEST_CASE("one_reg on a non-KVM fd names the vCPU, register and errno", "[one_reg]") {
  Fd null;
  REQUIRE(null.fd >= 0);
  std::array<std::byte, 8> buf{};
  auto s = kvm::get_one_reg(null.fd, 1, kvm::core_x(3), buf);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ENOTTY);
  CHECK(s.error().message == "vCPU 1: KVM_GET_ONE_REG x3: the fd is not a KVM vCPU (Inappropriate ioctl for device)");
  auto w = kvm::set_one_reg(null.fd, 0, kvm::zcr_el1(), buf);
  REQUIRE_FALSE(w);
  CHECK(w.error().code == ENOTTY);
  CHECK(w.error().message ==
        "vCPU 0: KVM_SET_ONE_REG ZCR_EL1: the fd is not a KVM vCPU (Inappropriate ioctl for device)");
  auto b = kvm::get_one_reg(-1, 0, kvm::core_pc(), buf);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == EBADF);
}

TEST_CASE("one_reg maps KVM's SVE errnos to their meaning", "[one_reg]") {
  auto e = kvm::one_reg_error(3, kvm::sve_zreg(0), false, EPERM);
  CHECK(e.code == EPERM);
  CHECK(e.message == "vCPU 3: SVE not finalized yet (z0)");
  CHECK(kvm::one_reg_error(0, kvm::sve_ffr(), true, EPERM).message == "vCPU 0: SVE not finalized yet (ffr)");
  e = kvm::one_reg_error(1, kvm::sve_vls(), true, EPERM);
  CHECK(e.code == EPERM);
  CHECK(e.message == "vCPU 1: SVE already finalized, vector lengths are frozen (SVE_VLS)");
  e = kvm::one_reg_error(2, kvm::sve_preg(4), false, ENOENT);
  CHECK(e.code == ENOENT);
  CHECK(e.message == "vCPU 2 has no SVE (p4)");
  CHECK(kvm::one_reg_error(0, kvm::zcr_el1(), false, ENOENT).message == "vCPU 0 has no SVE (ZCR_EL1)");
  CHECK(kvm::one_reg_error(0, kvm::sve_vls(), false, ENOENT).message == "vCPU 0 has no SVE (SVE_VLS)");
  CHECK(kvm::one_reg_error(0, kvm::sctlr_el1(), false, ENOENT).message == "vCPU 0: KVM has no register SCTLR_EL1");
  e = kvm::one_reg_error(0, kvm::core_vreg(7), false, EINVAL);
  CHECK(e.code == EINVAL);
  CHECK(e.message == "vCPU 0: KVM_GET_ONE_REG v7: invalid (FPSIMD V-registers are not accessible on an SVE vCPU)");
  e = kvm::one_reg_error(4, kvm::core_pc(), true, EFAULT);
  CHECK(e.code == EFAULT);
  CHECK(e.message == "vCPU 4: KVM_SET_ONE_REG pc: Bad address");
}
