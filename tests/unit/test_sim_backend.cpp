// introspect::SimBackend: the KVM register API semantics, the documented
// fixture, the VLS/finalize lifecycle, set-vl, run control and memory.
#include <array>
#include <fstream>
#include <iterator>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "introspect/sim/sim_fixture.hpp"
#include "tests/unit/monitor_run.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "kvm/reg_id.hpp"
#include "kvm/vls.hpp"

using namespace svedbg;
using introspect::SimBackend;
using introspect::SimConfig;
using kvm::BackendStop;
using kvm::GuestDebug;
using kvm::StopReason;

namespace {

std::vector<std::byte> get(SimBackend& b, unsigned vcpu, std::uint64_t id) {
  std::vector<std::byte> buf(kvm::reg_size(id), std::byte{0xee});
  const Status s = b.get_one_reg(vcpu, id, buf);
  INFO(kvm::reg_name(id) << ": " << (s ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
  return buf;
}

std::uint64_t get_u64(SimBackend& b, unsigned vcpu, std::uint64_t id) {
  const auto buf = get(b, vcpu, id);
  std::uint64_t v = 0;
  std::memcpy(&v, buf.data(), buf.size());
  return v;
}

Status set_u64(SimBackend& b, unsigned vcpu, std::uint64_t id, std::uint64_t value) {
  std::array<std::byte, 8> buf{};
  std::memcpy(buf.data(), &value, 8);
  return b.set_one_reg(vcpu, id, buf);
}

int get_errno(SimBackend& b, unsigned vcpu, std::uint64_t id, std::string* message = nullptr) {
  std::vector<std::byte> buf(kvm::reg_size(id));
  const Status s = b.get_one_reg(vcpu, id, buf);
  if (s) return 0;
  if (message) *message = s.error().message;
  return s.error().code;
}

int set_errno(SimBackend& b, unsigned vcpu, std::uint64_t id, std::string* message = nullptr) {
  std::vector<std::byte> buf(kvm::reg_size(id));
  const Status s = b.set_one_reg(vcpu, id, buf);
  if (s) return 0;
  if (message) *message = s.error().message;
  return s.error().code;
}

kvm::VqSet get_vls(SimBackend& b, unsigned vcpu) {
  const auto buf = get(b, vcpu, kvm::sve_vls());
  return kvm::VqSet::from_bytes(std::span<const std::byte, 64>(buf.data(), 64));
}

Status set_vls(SimBackend& b, unsigned vcpu, const kvm::VqSet& s) {
  std::array<std::byte, 64> buf{};
  s.to_bytes(buf);
  return b.set_one_reg(vcpu, kvm::sve_vls(), buf);
}

std::uint8_t u8(std::byte b) { return std::to_integer<std::uint8_t>(b); }

// Checks the documented fixture for SVE vCPU c at effective vq e.
void check_sve_fixture(SimBackend& b, unsigned c, unsigned e) {
  INFO("vCPU " << c << " effective vq " << e);
  const unsigned L = 16 * e;
  for (unsigned n = 0; n < 32; ++n) {
    const auto z = get(b, c, kvm::sve_zreg(n));
    REQUIRE(z.size() == 256);
    for (unsigned i = 0; i < 256; ++i) {
      INFO("z" << n << " byte " << i);
      REQUIRE(u8(z[i]) == (i < L ? (c * 37 + n * 11 + i) % 256 : 0));
    }
  }
  for (unsigned n = 0; n < 16; ++n) {
    const auto p = get(b, c, kvm::sve_preg(n));
    REQUIRE(p.size() == 32);
    for (unsigned i = 0; i < 32; ++i) {
      INFO("p" << n << " byte " << i);
      REQUIRE(u8(p[i]) == (i < L / 8 ? (c * 5 + n * 3 + i) % 256 : 0));
    }
  }
  const auto ffr = get(b, c, kvm::sve_ffr());
  for (unsigned i = 0; i < 32; ++i) REQUIRE(u8(ffr[i]) == (i < L / 8 ? 0xff : 0));
  CHECK(get_u64(b, c, kvm::zcr_el1()) == e - 1);
  CHECK(kvm::effective_vq(get_vls(b, c), get_u64(b, c, kvm::zcr_el1())) == e);
}

void check_core_fixture(SimBackend& b, unsigned c, std::uint64_t ram_base = 0x40000000) {
  INFO("vCPU " << c);
  for (unsigned n = 0; n <= 30; ++n) CHECK(get_u64(b, c, kvm::core_x(n)) == 0x1000ULL * c + n);
  CHECK(get_u64(b, c, kvm::core_sp()) == 0x80000000ULL + 0x1000ULL * c);
  CHECK(get_u64(b, c, kvm::core_pc()) == ram_base);
  CHECK(get_u64(b, c, kvm::core_pstate()) == 0x3c5);
  CHECK(get_u64(b, c, kvm::core_fpsr()) == 0);
  CHECK(get_u64(b, c, kvm::core_fpcr()) == 0);
  CHECK(get_u64(b, c, kvm::midr_el1()) == 0x410fd4f0);
  CHECK(get_u64(b, c, kvm::mpidr_el1()) == (0x80000000ULL | c));
  CHECK(get_u64(b, c, kvm::sctlr_el1()) == 0x30d00800);
  for (auto id : {kvm::tcr_el1(), kvm::ttbr0_el1(), kvm::ttbr1_el1(), kvm::vbar_el1(), kvm::esr_el1(), kvm::far_el1()})
    CHECK(get_u64(b, c, id) == 0);
}

}  // namespace

TEST_CASE("default fixture: 4 SVE vCPUs at 2048/512/128/256 bits", "[sim]") {
  SimBackend b(SimConfig{});
  CHECK(b.name() == "sim");
  REQUIRE(b.vcpu_count() == 4);
  const unsigned eff[] = {16, 4, 1, 2};
  for (unsigned c = 0; c < 4; ++c) {
    CHECK(b.fixture_vq(c) == eff[c]);
    CHECK(get_vls(b, c) == kvm::VqSet::range(1, 16));
    check_core_fixture(b, c);
    check_sve_fixture(b, c, eff[c]);
  }
  CHECK(b.fixture_vq(99) == 0);
}

TEST_CASE("fixture: max_vq and host lengths clamp the effective VL", "[sim]") {
  SECTION("max_vq 4") {
    SimConfig cfg;
    cfg.max_vq = 4;
    SimBackend b(cfg);
    const unsigned eff[] = {4, 4, 1, 2};
    for (unsigned c = 0; c < 4; ++c) {
      CHECK(get_vls(b, c) == kvm::VqSet::range(1, 4));
      check_sve_fixture(b, c, eff[c]);
    }
  }
  SECTION("a host with 128/256/512 bits only, effective list cycled") {
    SimConfig cfg;
    cfg.vcpus = 5;
    cfg.vls = {};
    cfg.vls.set(1);
    cfg.vls.set(2);
    cfg.vls.set(4);
    cfg.effective_vq = {3, 16};
    SimBackend b(cfg);
    const unsigned eff[] = {2, 4, 2, 4, 2};
    for (unsigned c = 0; c < 5; ++c) {
      CHECK(get_vls(b, c) == cfg.vls);
      check_sve_fixture(b, c, eff[c]);
    }
  }
  SECTION("empty effective list: every vCPU at max_vq") {
    SimConfig cfg;
    cfg.vcpus = 2;
    cfg.max_vq = 8;
    cfg.effective_vq = {};
    SimBackend b(cfg);
    check_sve_fixture(b, 0, 8);
    check_sve_fixture(b, 1, 8);
  }
}

TEST_CASE("vCPUs without SVE", "[sim]") {
  SimConfig cfg;
  cfg.sve = {true, false};  // cycled: vCPUs 1 and 3 have no SVE
  SimBackend b(cfg);
  check_sve_fixture(b, 0, 16);
  check_sve_fixture(b, 2, 1);
  for (unsigned c : {1U, 3U}) {
    check_core_fixture(b, c);
    CHECK(b.fixture_vq(c) == 0);
    for (unsigned n = 0; n < 32; ++n) {
      const auto v = get(b, c, kvm::core_vreg(n));
      for (unsigned i = 0; i < 16; ++i) REQUIRE(u8(v[i]) == (c * 37 + n * 11 + i) % 256);
    }
    std::string msg;
    CHECK(get_errno(b, c, kvm::sve_vls(), &msg) == ENOENT);
    CHECK(set_errno(b, c, kvm::sve_vls()) == ENOENT);
    CHECK(get_errno(b, c, kvm::sve_zreg(3), &msg) == ENOENT);
    CHECK(msg == fmt::format("vCPU {} has no SVE (z3)", c));
    CHECK(set_errno(b, c, kvm::sve_preg(1)) == ENOENT);
    CHECK(get_errno(b, c, kvm::sve_ffr()) == ENOENT);
    CHECK(get_errno(b, c, kvm::zcr_el1(), &msg) == ENOENT);
    CHECK(msg == fmt::format("vCPU {} has no SVE (ZCR_EL1)", c));
    CHECK(set_errno(b, c, kvm::zcr_el1()) == ENOENT);
    const Status f = b.finalize(c);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == EINVAL);
  }
  // sve = {false, ...} everywhere: no SVE at all is allowed.
  SimConfig none;
  none.sve = {false};
  SimBackend n(none);
  CHECK(get_errno(n, 0, kvm::sve_zreg(0)) == ENOENT);
}

TEST_CASE("FPSIMD V-registers are EINVAL on an SVE vCPU", "[sim]") {
  SimBackend b(SimConfig{});
  std::string msg;
  CHECK(get_errno(b, 0, kvm::core_vreg(5), &msg) == EINVAL);
  CHECK(msg.find("vCPU 0") != std::string::npos);
  CHECK(msg.find("v5") != std::string::npos);
  CHECK(set_errno(b, 1, kvm::core_vreg(0)) == EINVAL);
  // fpsr/fpcr stay core registers.
  CHECK(get_errno(b, 0, kvm::core_fpsr()) == 0);
}

TEST_CASE("register ID and buffer validation", "[sim]") {
  SimBackend b(SimConfig{});
  std::string msg;

  SECTION("buffer size must equal reg_size(id)") {
    std::array<std::byte, 4> small{};
    const Status s = b.get_one_reg(0, kvm::core_pc(), small);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == EINVAL);
    CHECK(s.error().message.find("pc") != std::string::npos);
    std::array<std::byte, 128> big{};
    const Status z = b.set_one_reg(0, kvm::sve_zreg(0), big);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code == EINVAL);
  }
  SECTION("not an arm64 ID") {
    CHECK(get_errno(b, 0, 0x4030000000100040ULL) == EINVAL);          // 32-bit ARM
    CHECK(get_errno(b, 0, kvm::core_pc() | (1ULL << 33)) == EINVAL);  // stray bits
  }
  SECTION("core: wrong size field, misaligned, past kvm_regs") {
    CHECK(get_errno(b, 0, (kvm::core_pc() & ~kvm::kRegSizeMask) | kvm::kRegSizeU32, &msg) == EINVAL);
    CHECK(msg.find("pc") != std::string::npos);
    CHECK(get_errno(b, 0, (kvm::core_fpsr() & ~kvm::kRegSizeMask) | kvm::kRegSizeU64) == EINVAL);
    CHECK(get_errno(b, 0, kvm::core_x(0) + 1) == EINVAL);     // upper half of x0
    CHECK(get_errno(b, 0, kvm::core_spsr(4) + 2) == EINVAL);  // the padding before fp_regs
    CHECK(get_errno(b, 2, kvm::core_fpcr() + 1) == EINVAL);   // __reserved[0]
    // get_core_reg(): off + size/4 must stay below sizeof(kvm_regs)/4.
    CHECK(get_errno(b, 2, kvm::core_fpcr() + 2) == ENOENT);  // __reserved[1]
    CHECK(get_errno(b, 0, kvm::kRegArm64 | kvm::kRegSizeU64 | kvm::kRegArmCore | 0x100) == ENOENT);
  }
  SECTION("SVE: wrong size field, slices, unknown IDs") {
    CHECK(get_errno(b, 0, (kvm::sve_zreg(1) & ~kvm::kRegSizeMask) | kvm::kRegSizeU256) == EINVAL);
    CHECK(get_errno(b, 0, (kvm::sve_vls() & ~kvm::kRegSizeMask) | kvm::kRegSizeU64) == EINVAL);
    CHECK(get_errno(b, 0, kvm::kRegArm64 | kvm::kRegArm64Sve | kvm::kRegSizeU256 | 0x700) == EINVAL);
    CHECK(get_errno(b, 0, kvm::sve_zreg(3, 1), &msg) == ENOENT);
    CHECK(msg.find("z3 (slice 1)") != std::string::npos);
    CHECK(set_errno(b, 0, kvm::sve_preg(3, 31)) == ENOENT);
    CHECK(get_errno(b, 0, kvm::sve_ffr(2)) == ENOENT);
  }
  SECTION("system registers") {
    CHECK(get_errno(b, 0, kvm::sys_reg(3, 3, 14, 3, 1), &msg) == ENOENT);
    CHECK(msg.find("S3_3_C14_C3_1") != std::string::npos);
    CHECK(get_errno(b, 0, kvm::elr_el1(), &msg) == ENOENT);
    CHECK(msg.find("ELR_EL1") != std::string::npos);
    CHECK(set_errno(b, 0, kvm::spsr_el1()) == ENOENT);
    CHECK(get_errno(b, 0, (kvm::zcr_el1() & ~kvm::kRegSizeMask) | kvm::kRegSizeU32) == EINVAL);
    // MIDR_EL1 is invariant: same value fine, another EINVAL.
    CHECK(set_u64(b, 0, kvm::midr_el1(), 0x410fd4f0).ok());
    const Status s = set_u64(b, 0, kvm::midr_el1(), 0x410fd0c0);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == EINVAL);
    // Writable ones keep the value, per vCPU.
    REQUIRE(set_u64(b, 1, kvm::vbar_el1(), 0x40000800).ok());
    CHECK(get_u64(b, 1, kvm::vbar_el1()) == 0x40000800);
    CHECK(get_u64(b, 0, kvm::vbar_el1()) == 0);
  }
  SECTION("other coprocessors, bad vCPU") {
    CHECK(get_errno(b, 0, kvm::kRegArm64 | kvm::kRegSizeU64 | kvm::kRegArmFw) == ENOENT);
    CHECK(get_errno(b, 4, kvm::core_pc(), &msg) == ESRCH);
    CHECK(msg.find("vCPU 4") != std::string::npos);
  }
  SECTION("core elr_el1 / spsr[0] and the other core registers round-trip") {
    REQUIRE(set_u64(b, 3, kvm::core_elr_el1(), 0x1234).ok());
    REQUIRE(set_u64(b, 3, kvm::core_spsr(0), 0x5).ok());
    REQUIRE(set_u64(b, 3, kvm::core_sp_el1(), 0x9000).ok());
    CHECK(get_u64(b, 3, kvm::core_elr_el1()) == 0x1234);
    CHECK(get_u64(b, 3, kvm::core_spsr(0)) == 0x5);
    CHECK(get_u64(b, 3, kvm::core_sp_el1()) == 0x9000);
    std::array<std::byte, 4> fpcr{std::byte{0}, std::byte{0}, std::byte{0xc0}, std::byte{0x03}};
    REQUIRE(b.set_one_reg(3, kvm::core_fpcr(), fpcr).ok());
    CHECK(get_u64(b, 3, kvm::core_fpcr()) == 0x03c00000);
    CHECK(get_u64(b, 3, kvm::core_fpsr()) == 0);
  }
}

TEST_CASE("VLS and finalize lifecycle (setup = false)", "[sim]") {
  SimConfig cfg;
  cfg.vcpus = 3;
  SimBackend b(cfg, false);
  std::string msg;

  // KVM's reset state.
  CHECK(get_u64(b, 1, kvm::core_pc()) == 0);
  CHECK(get_u64(b, 1, kvm::core_x(5)) == 0);
  CHECK(get_u64(b, 1, kvm::core_pstate()) == 0x3c5);
  CHECK(get_u64(b, 1, kvm::zcr_el1()) == 0);  // sysregs need no finalization
  CHECK(get_u64(b, 2, kvm::mpidr_el1()) == 0x80000002);
  CHECK(b.fixture_vq(1) == 0);

  // Z/P/FFR before finalization: EPERM, with vCPU and register named.
  CHECK(get_errno(b, 1, kvm::sve_zreg(3), &msg) == EPERM);
  CHECK(msg == "vCPU 1: SVE not finalized yet (z3)");
  CHECK(set_errno(b, 1, kvm::sve_zreg(3)) == EPERM);
  CHECK(get_errno(b, 1, kvm::sve_preg(0)) == EPERM);
  CHECK(get_errno(b, 1, kvm::sve_ffr(), &msg) == EPERM);
  CHECK(msg == "vCPU 1: SVE not finalized yet (ffr)");

  // VLS readable before finalization: the host's lengths.
  CHECK(get_vls(b, 1) == kvm::VqSet::range(1, 16));

  // Invalid VLS writes.
  auto vls_errno = [&](const kvm::VqSet& s) {
    const Status st = set_vls(b, 1, s);
    return st ? 0 : st.error().code;
  };
  CHECK(vls_errno(kvm::VqSet{}) == EINVAL);              // empty
  CHECK(vls_errno(kvm::VqSet::range(1, 17)) == EINVAL);  // host has no 2176 bits
  CHECK(vls_errno(kvm::VqSet::range(2, 4)) == EINVAL);   // 128 missing below the max
  kvm::VqSet holes;
  holes.set(1);
  holes.set(4);
  CHECK(vls_errno(holes) == EINVAL);                 // KVM cannot hide 256, 384
  CHECK(get_vls(b, 1) == kvm::VqSet::range(1, 16));  // unchanged

  // The seed's sequence: read, clear above the maximum, write, finalize.
  REQUIRE(set_vls(b, 1, kvm::VqSet::range(1, 4)).ok());
  CHECK(get_vls(b, 1) == kvm::VqSet::range(1, 4));
  REQUIRE(set_vls(b, 1, kvm::VqSet::range(1, 8)).ok());  // rewritable until finalized
  REQUIRE(set_vls(b, 1, kvm::VqSet::range(1, 4)).ok());
  REQUIRE(b.finalize(1).ok());
  const Status twice = b.finalize(1);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == EPERM);
  CHECK(b.finalize(7).error().code == ESRCH);

  // After finalization: VLS frozen, still readable.
  CHECK(set_errno(b, 1, kvm::sve_vls(), &msg) == EPERM);
  CHECK(msg.find("vCPU 1") != std::string::npos);
  CHECK(vls_errno(kvm::VqSet::range(1, 4)) == EPERM);
  CHECK(get_vls(b, 1) == kvm::VqSet::range(1, 4));

  // Z/P/FFR now accessible at the 512-bit maximum VL: reads give the full
  // container with zeros above 64 bytes; writes keep those bytes zero.
  auto z = get(b, 1, kvm::sve_zreg(7));
  for (auto byte : z) CHECK(byte == std::byte{0});
  std::vector<std::byte> all_ones(256, std::byte{0xa5});
  REQUIRE(b.set_one_reg(1, kvm::sve_zreg(7), all_ones).ok());
  z = get(b, 1, kvm::sve_zreg(7));
  for (unsigned i = 0; i < 256; ++i) REQUIRE(u8(z[i]) == (i < 64 ? 0xa5 : 0));
  std::vector<std::byte> p_ones(32, std::byte{0xff});
  REQUIRE(b.set_one_reg(1, kvm::sve_preg(15), p_ones).ok());
  REQUIRE(b.set_one_reg(1, kvm::sve_ffr(), p_ones).ok());
  const auto p = get(b, 1, kvm::sve_preg(15));
  const auto ffr = get(b, 1, kvm::sve_ffr());
  for (unsigned i = 0; i < 32; ++i) {
    REQUIRE(u8(p[i]) == (i < 8 ? 0xff : 0));
    REQUIRE(u8(ffr[i]) == (i < 8 ? 0xff : 0));
  }

  // The other vCPUs are untouched by vCPU 1's finalization.
  CHECK(get_errno(b, 0, kvm::sve_zreg(0)) == EPERM);
  CHECK(get_vls(b, 2) == kvm::VqSet::range(1, 16));
}

TEST_CASE("check_config and constructor rejection", "[sim]") {
  auto bad = [](auto mutate) {
    SimConfig cfg;
    mutate(cfg);
    const Status s = SimBackend::check_config(cfg);
    CHECK_FALSE(s.ok());
    CHECK_THROWS_AS(SimBackend(cfg), std::invalid_argument);
  };
  CHECK(SimBackend::check_config(SimConfig{}).ok());
  bad([](SimConfig& c) { c.vcpus = 0; });
  bad([](SimConfig& c) { c.max_vq = 0; });
  bad([](SimConfig& c) { c.max_vq = 17; });
  bad([](SimConfig& c) { c.vls = kvm::VqSet::range(1, 17); });
  bad([](SimConfig& c) {
    c.max_vq = 2;
    c.vls = kvm::VqSet::range(4, 8);
  });
  bad([](SimConfig& c) { c.ram_size = 0; });
  bad([](SimConfig& c) { c.ram_base = ~0ULL - 10; });
}

TEST_CASE("monitor sim set-vl", "[sim]") {
  SimBackend b(SimConfig{});
  CHECK(test::monitor_help(b).find("sim set-vl VCPU BITS") != std::string::npos);

  SECTION("lowering zeroes Z/P/FFR at and above the new VL, raising exposes zeros") {
    auto r = test::run_monitor(b, "sim set-vl 0 512");
    REQUIRE(r.has_value());
    REQUIRE(r->ok());
    CHECK(**r == "vCPU 0: VL 512 bits (ZCR_EL1.LEN=3)\n");
    CHECK(get_u64(b, 0, kvm::zcr_el1()) == 3);
    check_sve_fixture(b, 0, 4);
    r = test::run_monitor(b, "  sim   set-vl 0 2048 ");
    REQUIRE(r->ok());
    CHECK(**r == "vCPU 0: VL 2048 bits (ZCR_EL1.LEN=15)\n");
    CHECK(get_u64(b, 0, kvm::zcr_el1()) == 15);
    const auto z = get(b, 0, kvm::sve_zreg(9));
    for (unsigned i = 0; i < 256; ++i) REQUIRE(u8(z[i]) == (i < 64 ? (9 * 11 + i) % 256 : 0));
    const auto ffr = get(b, 0, kvm::sve_ffr());
    for (unsigned i = 0; i < 32; ++i) REQUIRE(u8(ffr[i]) == (i < 8 ? 0xff : 0));
    // Other vCPUs untouched.
    check_sve_fixture(b, 1, 4);
  }
  SECTION("a request above the maximum is clamped") {
    SimConfig cfg;
    cfg.max_vq = 4;
    SimBackend small(cfg);
    auto r = test::run_monitor(small, "sim set-vl 2 2048");
    REQUIRE(r->ok());
    CHECK(**r == "vCPU 2: VL 512 bits (ZCR_EL1.LEN=15, 2048 bits requested but not enabled)\n");
    r = test::run_monitor(small, "sim set-vl 2 384");
    REQUIRE(r->ok());
    CHECK(**r == "vCPU 2: VL 384 bits (ZCR_EL1.LEN=2)\n");
  }
  SECTION("errors") {
    auto code = [&](const char* cmd) {
      auto r = test::run_monitor(b, cmd);
      REQUIRE(r.has_value());
      REQUIRE_FALSE(r->ok());
      return r->error().code;
    };
    CHECK(code("sim set-vl 0 100") == EINVAL);
    CHECK(code("sim set-vl 0 0") == EINVAL);
    CHECK(code("sim set-vl 0 2176") == EINVAL);
    CHECK(code("sim set-vl 0 5l2") == EINVAL);
    CHECK(code("sim set-vl x 512") == EINVAL);
    CHECK(code("sim set-vl -1 512") == EINVAL);
    CHECK(code("sim set-vl 4 512") == ESRCH);
    CHECK(code("sim set-vl 0") == EINVAL);
    CHECK(code("sim set-vl 0 512 9") == EINVAL);
    check_sve_fixture(b, 0, 16);  // nothing changed
  }
  SECTION("a vCPU without SVE") {
    SimConfig cfg;
    cfg.sve = {false, true};
    SimBackend mixed(cfg);
    auto r = test::run_monitor(mixed, "sim set-vl 0 256");
    REQUIRE_FALSE(r->ok());
    CHECK(r->error().code == ENOENT);
    CHECK(r->error().message == "vCPU 0 has no SVE (ZCR_EL1)");
  }
  SECTION("not ours") {
    CHECK_FALSE(test::run_monitor(b, "help").has_value());
    CHECK_FALSE(test::run_monitor(b, "sim").has_value());
    CHECK_FALSE(test::run_monitor(b, "sim other 1").has_value());
    CHECK_FALSE(test::run_monitor(b, "").has_value());
  }
}

TEST_CASE("single-step executes one NOP on the stepped vCPUs", "[sim]") {
  SimBackend b(SimConfig{});
  int notified = 0;
  b.set_stop_notifier([&] { ++notified; });
  CHECK_FALSE(b.poll_stop().has_value());

  const unsigned two[] = {2};
  REQUIRE(b.resume(two, false).ok());
  CHECK(notified == 1);
  auto stop = b.poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 2);
  CHECK(stop->reason == kvm::StopReason::Stepped);
  CHECK_FALSE(b.poll_stop().has_value());  // reported once
  CHECK(get_u64(b, 2, kvm::core_pc()) == 0x40000004);
  CHECK(get_u64(b, 2, kvm::core_x(0)) == 0x2001);
  CHECK(get_u64(b, 2, kvm::core_x(1)) == 0x2001);
  for (unsigned c : {0U, 1U, 3U}) {
    CHECK(get_u64(b, c, kvm::core_pc()) == 0x40000000);
    CHECK(get_u64(b, c, kvm::core_x(0)) == 0x1000ULL * c);
  }

  const unsigned several[] = {3, 1, 3};
  REQUIRE(b.resume(several, true).ok());
  stop = b.poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 3);
  CHECK(stop->reason == kvm::StopReason::Stepped);
  CHECK(get_u64(b, 3, kvm::core_pc()) == 0x40000004);  // once, though listed twice
  CHECK(get_u64(b, 1, kvm::core_pc()) == 0x40000004);
  CHECK(get_u64(b, 1, kvm::core_x(0)) == 0x1001);
  CHECK(get_u64(b, 0, kvm::core_pc()) == 0x40000000);

  const unsigned bad[] = {1, 4};
  const Status s = b.resume(bad, false);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ESRCH);
  CHECK(get_u64(b, 1, kvm::core_pc()) == 0x40000004);  // nothing stepped
  CHECK(notified == 2);
}

TEST_CASE("running guest stops on interrupt from another thread", "[sim]") {
  SimBackend b(SimConfig{});
  std::atomic<int> notified{0};
  b.set_stop_notifier([&] { ++notified; });

  // interrupt() of a stopped guest does nothing.
  b.interrupt();
  CHECK_FALSE(b.poll_stop().has_value());
  CHECK(notified == 0);

  REQUIRE(b.resume({}, true).ok());
  CHECK_FALSE(b.poll_stop().has_value());
  std::thread t([&] { b.interrupt(); });
  t.join();
  CHECK(notified == 1);
  auto stop = b.poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 0);
  CHECK(stop->reason == kvm::StopReason::Interrupted);
  CHECK_FALSE(b.poll_stop().has_value());
  b.interrupt();  // already stopped
  CHECK(notified == 1);

  // After a stop on vCPU 3, the next interrupt reports vCPU 3.
  const unsigned three[] = {3};
  REQUIRE(b.resume(three, false).ok());
  REQUIRE(b.poll_stop()->vcpu == 3);
  REQUIRE(b.resume({}, true).ok());
  b.interrupt();
  stop = b.poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 3);
  CHECK(stop->reason == kvm::StopReason::Interrupted);

  // The notifier may call back into the backend (it runs unlocked).
  b.set_stop_notifier([&] { CHECK(b.poll_stop().has_value()); });
  REQUIRE(b.resume({}, true).ok());
  b.interrupt();
  CHECK_FALSE(b.poll_stop().has_value());
}

TEST_CASE("detach resumes unchanged, kill restores the fixture", "[sim]") {
  SimBackend b(SimConfig{});
  const unsigned one[] = {1};
  REQUIRE(b.resume(one, false).ok());
  b.detach();
  CHECK_FALSE(b.poll_stop().has_value());  // the pending stop is dropped, guest runs
  b.interrupt();
  REQUIRE(b.poll_stop().has_value());
  // Detached, vCPU 1 ran on from where the step left it (pc 0x40000004,
  // x0 0x1001) through NOPs only: each one added 4 to pc and 1 to x0.
  const auto pc1 = get_u64(b, 1, kvm::core_pc());
  CHECK(pc1 >= 0x40000004);
  CHECK(pc1 <= 0x40000ffc);
  CHECK(get_u64(b, 1, kvm::core_x(0)) - 0x1000 == (pc1 - 0x40000000) / 4);

  REQUIRE(set_u64(b, 0, kvm::core_x(7), 42).ok());
  REQUIRE(test::run_monitor(b, "sim set-vl 0 128").value().ok());
  std::array<std::byte, 4> junk{};
  REQUIRE(b.write_phys(0x40000000, junk).ok());
  int notified = 0;
  b.set_stop_notifier([&] { ++notified; });

  b.kill();
  for (unsigned c = 0; c < 4; ++c) check_core_fixture(b, c);
  check_sve_fixture(b, 0, 16);
  check_sve_fixture(b, 1, 4);
  std::array<std::byte, 4> nop{};
  REQUIRE(b.read_phys(0x40000000, nop).ok());
  CHECK(nop == std::array<std::byte, 4>{std::byte{0x1f}, std::byte{0x20}, std::byte{0x03}, std::byte{0xd5}});
  CHECK_FALSE(b.poll_stop().has_value());
  REQUIRE(b.resume(one, false).ok());  // the notifier survives kill
  CHECK(notified == 1);

  // setup = false is reproduced too.
  SimBackend raw(SimConfig{}, false);
  REQUIRE(set_vls(raw, 0, kvm::VqSet::range(1, 2)).ok());
  REQUIRE(raw.finalize(0).ok());
  raw.kill();
  CHECK(get_vls(raw, 0) == kvm::VqSet::range(1, 16));
  CHECK(get_errno(raw, 0, kvm::sve_zreg(0)) == EPERM);
}

TEST_CASE("guest-physical memory", "[sim]") {
  SimConfig cfg;
  cfg.ram_size = 0x3000;
  SimBackend b(cfg);

  std::vector<std::byte> buf(0x3000);
  auto n = b.read_phys(0x40000000, buf);
  REQUIRE(n.ok());
  REQUIRE(*n == 0x3000);
  for (std::size_t o = 0; o < 0xffc; ++o) {
    const std::uint8_t nop[] = {0x1f, 0x20, 0x03, 0xd5};
    REQUIRE(u8(buf[o]) == nop[o % 4]);
  }
  // The last word of the page is `b .` (0x14000000).
  CHECK((u8(buf[0xffc]) == 0 && u8(buf[0xffd]) == 0 && u8(buf[0xffe]) == 0 && u8(buf[0xfff]) == 0x14));
  for (std::size_t o = 0x1000; o < 0x3000; ++o) REQUIRE(u8(buf[o]) == o % 251);
  CHECK(SimBackend::fixture_ram_byte(0x1005) == 0x1005 % 251);

  // Partial at the end of RAM.
  std::array<std::byte, 16> tail{};
  n = b.read_phys(0x40002ff8, tail);
  REQUIRE(n.ok());
  CHECK(*n == 8);
  CHECK(u8(tail[0]) == 0x2ff8 % 251);

  // Outside RAM: EFAULT.
  for (std::uint64_t gpa : {0x3fffffffULL, 0x40003000ULL, 0ULL, ~0ULL}) {
    const auto r = b.read_phys(gpa, tail);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == EFAULT);
    const auto w = b.write_phys(gpa, tail);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == EFAULT);
  }

  // Writes land and are partial at the end.
  const std::array<std::byte, 4> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  n = b.write_phys(0x40001000, data);
  REQUIRE(n.ok());
  CHECK(*n == 4);
  n = b.write_phys(0x40002ffe, data);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  std::array<std::byte, 4> back{};
  REQUIRE(b.read_phys(0x40001000, back).ok());
  CHECK(back == data);
  std::array<std::byte, 2> last{};
  REQUIRE(b.read_phys(0x40002ffe, last).ok());
  CHECK(u8(last[0]) == 1);
  CHECK(u8(last[1]) == 2);
  // Empty reads inside RAM are fine.
  n = b.read_phys(0x40000000, std::span<std::byte>{});
  REQUIRE(n.ok());
  CHECK(*n == 0);
}

TEST_CASE("the running guest executes its program: NOPs, then b .", "[sim]") {
  SimBackend b(SimConfig{});
  REQUIRE(b.resume({}, true).ok());
  // A running vCPU is busy in KVM_RUN: no register access.
  std::vector<std::byte> buf(8);
  auto busy = b.get_one_reg(0, kvm::core_pc(), buf);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == EBUSY);
  CHECK(b.set_one_reg(0, kvm::core_x(1), buf).error().code == EBUSY);
  // 1023 NOPs take microseconds; the vCPUs then spin on `b .`. Stop, look,
  // run on, until vCPU 3 is in the loop (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    b.interrupt();
    REQUIRE(b.poll_stop());
    if (get_u64(b, 3, kvm::core_pc()) == 0x40000ffc || std::chrono::steady_clock::now() > deadline) break;
    REQUIRE(b.resume({}, true).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (unsigned c = 0; c < 4; ++c) {
    CHECK(get_u64(b, c, kvm::core_pc()) == 0x40000ffc);
    CHECK(get_u64(b, c, kvm::core_x(0)) == 0x1000ULL * c + 1023);
  }
}

TEST_CASE("guest debug: BRK with USE_SW_BP, hardware breakpoints, single-step", "[sim]") {
  SimBackend b(SimConfig{});
  CHECK(b.debug_caps().guest_debug);
  const std::byte brk[] = {std::byte{0x00}, std::byte{0x00}, std::byte{0x20}, std::byte{0xd4}};  // BRK #0
  REQUIRE(b.write_phys(0x40000010, brk).ok());
  kvm::GuestDebug sw;
  sw.control = kvm::GuestDebug::kEnable | kvm::GuestDebug::kUseSwBp;
  for (unsigned c = 0; c < 4; ++c) REQUIRE(b.set_guest_debug(c, sw).ok());
  std::atomic<int> notified{0};
  b.set_stop_notifier([&] { ++notified; });
  REQUIRE(b.resume({}, true).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (notified == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto stop = b.poll_stop();
  REQUIRE(stop);
  // vCPUs run one instruction each in turn: vCPU 0 reaches the BRK first.
  CHECK(stop->vcpu == 0);
  CHECK(stop->reason == kvm::StopReason::Breakpoint);
  CHECK((stop->esr >> 26) == 0x3c);
  CHECK(get_u64(b, 0, kvm::core_pc()) == 0x40000010);  // pc stays at the BRK
  CHECK_FALSE(b.running());

  // A hardware breakpoint at 0x40000020 on vCPU 2, stepping towards it.
  const std::byte nop[] = {std::byte{0x1f}, std::byte{0x20}, std::byte{0x03}, std::byte{0xd5}};
  REQUIRE(b.write_phys(0x40000010, nop).ok());
  kvm::GuestDebug hw;
  hw.control = kvm::GuestDebug::kEnable | kvm::GuestDebug::kUseHw;
  hw.bcr[0] = 0x1e7;
  hw.bvr[0] = 0x40000014;
  REQUIRE(b.set_guest_debug(2, hw).ok());
  const unsigned two[] = {2};
  REQUIRE(b.resume(two, false).ok());  // 0x40000010 -> 0x40000014
  stop = b.poll_stop();
  REQUIRE(stop);
  CHECK(stop->reason == kvm::StopReason::Stepped);
  CHECK((stop->esr >> 26) == 0x32);
  CHECK(get_u64(b, 2, kvm::core_pc()) == 0x40000014);
  REQUIRE(b.resume(two, false).ok());  // the breakpoint fires before executing
  stop = b.poll_stop();
  REQUIRE(stop);
  CHECK(stop->reason == kvm::StopReason::Breakpoint);
  CHECK((stop->esr >> 26) == 0x30);
  CHECK(get_u64(b, 2, kvm::core_pc()) == 0x40000014);

  // Without USE_SW_BP a BRK is the guest's: it takes the exception.
  REQUIRE(b.set_guest_debug(1, kvm::GuestDebug{}).ok());
  REQUIRE(b.write_phys(0x40000010, brk).ok());
  const unsigned one[] = {1};
  REQUIRE(b.resume(one, false).ok());
  REQUIRE(b.poll_stop());
  CHECK(get_u64(b, 1, kvm::core_pc()) == 0x200);  // VBAR_EL1 (0) + 0x200
  CHECK(get_u64(b, 1, kvm::core_elr_el1()) == 0x40000010);
}

TEST_CASE("README quotes the fixture text verbatim", "[sim]") {
  std::ifstream in(std::string(SVEDBG_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string quoted = "```text\n" + std::string(introspect::sim_fixture_text()) + "```\n";
  CHECK(readme.find(quoted) != std::string::npos);
}
