// introspect::CoreBackend on the corpus in tests/corpus/core (regenerate
// with its make-corpus): svedbg's own dumps, a process core svedbg did not
// write, and bad input (truncated, corrupted, not a core, notes of the
// wrong size), which must be refused with a clear message, never a crash.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "introspect/core/core_backend.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

const std::string kCorpus = std::string(SVEDBG_GOLDEN_DIR) + "/../corpus/core/";

std::unique_ptr<CoreBackend> open_ok(const std::string& name) {
  auto core = CoreBackend::open(kCorpus + name);
  INFO(name << ": " << (core ? std::string("ok") : core.error().message));
  REQUIRE(core.ok());
  return std::move(*core);
}

std::vector<std::byte> get(kvm::Backend& b, unsigned vcpu, std::uint64_t id) {
  std::vector<std::byte> buf(kvm::reg_size(id));
  const Status s = b.get_one_reg(vcpu, id, buf);
  INFO(kvm::reg_name(id) << ": " << (s ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
  return buf;
}

std::uint64_t get_u64(kvm::Backend& b, unsigned vcpu, std::uint64_t id) {
  const auto buf = get(b, vcpu, id);
  std::uint64_t v = 0;
  std::memcpy(&v, buf.data(), std::min<std::size_t>(8, buf.size()));
  return v;
}

}  // namespace

TEST_CASE("Corpus: bad core files are refused with a message naming the problem") {
  struct Bad {
    const char* file;
    int code;
    const char* says;
  };
  const Bad bad[] = {
      {"empty.core", EINVAL, "is empty"},
      {"not-elf.core", EINVAL, "is not an ELF file"},
      {"truncated-header.core", EINVAL, "an ELF64 header alone has 64"},
      {"truncated-notes.core", EINVAL, "is truncated: its notes end at byte"},
      {"exec-not-core.elf", EINVAL, "is not a core file (ELF ET_EXEC"},
      {"x86_64.core", EINVAL, "is a core file for x86-64, not AArch64"},
      {"no-threads.core", EINVAL, "comes before any NT_PRSTATUS"},
      {"corrupt-note-header.core", EINVAL, "corrupt note at byte 0"},
      {"prstatus-wrong-size.core", EINVAL, "thread 1: NT_PRSTATUS note has 384 bytes, its layout has 392"},
      {"fpregset-wrong-size.core", EINVAL, "thread 1: NT_FPREGSET note has 544 bytes, its layout has 528"},
      {"sve-bad-vl.core", EINVAL, "(vCPU 0, LWP 1): NT_ARM_SVE header has an invalid vector length of 40 bytes"},
      {"sve-vl-too-large.core", ENOTSUP, "vector length 4096 bits exceeds the architectural 2048"},
      {"sve-short-payload.core", EINVAL, "NT_ARM_SVE payload has 600 bytes, SVE state at VL 512 bits needs 2224"},
      {"sve-size-beyond-note.core", EINVAL, "NT_ARM_SVE header claims 2288 bytes, the note has 2224"},
      {"svedbg-wrong-size.core", EINVAL, "thread 1: SVEDBG note has 320 bytes, its layout has 312"},
      {"svedbg-bad-version.core", ENOTSUP, "SVEDBG note version 99"},
      {"no-fp-notes.core", EINVAL, "no NT_FPREGSET or NT_ARM_SVE note, so its FP/SIMD registers are missing"},
      {"no-such-file.core", ENOENT, "cannot open"},
  };
  for (const auto& b : bad) {
    auto core = CoreBackend::open(kCorpus + b.file);
    INFO(b.file);
    REQUIRE_FALSE(core.ok());
    INFO(core.error().message);
    CHECK(core.error().code == b.code);
    CHECK(core.error().message.find(b.says) != std::string::npos);
    CHECK(core.error().message.find(b.file) != std::string::npos);
  }
}

TEST_CASE("Corpus: svedbg's own dump (2 vCPUs, VL 512 and 256 bits)") {
  auto core = open_ok("good-svedbg.core");
  CHECK(core->vcpu_count() == 2);
  CHECK(core->describe().find("written by svedbg") != std::string::npos);
  const unsigned vq[] = {4, 2};
  for (unsigned c = 0; c < 2; ++c) {
    CHECK(get_u64(*core, c, kvm::core_x(7)) == 0x1000u * c + 7);
    CHECK(get_u64(*core, c, kvm::core_pc()) == 0x40000000);
    CHECK(get_u64(*core, c, kvm::zcr_el1()) == vq[c] - 1);
    CHECK(get_u64(*core, c, kvm::mpidr_el1()) == 0x80000000u + c);
    CHECK(get_u64(*core, c, kvm::sctlr_el1()) == SimBackend::kSctlrReset);
    const auto z5 = get(*core, c, kvm::sve_zreg(5));
    for (unsigned b = 0; b < z5.size(); ++b)
      CHECK(std::to_integer<unsigned>(z5[b]) == (b < 16 * vq[c] ? SimBackend::fixture_z_byte(c, 5, b) : 0u));
    const auto vls = kvm::VqSet::from_bytes(std::span<const std::byte, 64>(get(*core, c, kvm::sve_vls())));
    CHECK(vls == kvm::VqSet::range(1, 4));
  }
  // Registers KVM would refuse are refused the same way.
  std::vector<std::byte> v(16);
  CHECK(core->get_one_reg(0, kvm::core_vreg(0), v).error().code == EINVAL);
  std::vector<std::byte> z(256);
  CHECK(core->get_one_reg(0, kvm::sve_zreg(0, 1), z).error().code == ENOENT);
  CHECK(core->get_one_reg(2, kvm::sve_zreg(0), z).error().code == ESRCH);
  std::vector<std::byte> small(4);
  CHECK(core->get_one_reg(0, kvm::core_x(0), small).error().code == EINVAL);
}

TEST_CASE("Corpus: a truncated memory segment is served as far as it goes") {
  auto core = open_ok("truncated-memory.core");
  REQUIRE(core->warnings().size() == 1);
  CHECK(core->warnings()[0].find("truncated: the segment at 0x40000000 has 6144 of its 12288 bytes") !=
        std::string::npos);
  std::vector<std::byte> buf(0x1000);
  auto n = core->read_phys(0x40001000, buf);
  REQUIRE(n.ok());
  CHECK(*n == 0x800);
  CHECK(std::to_integer<unsigned>(buf[1]) == 0x1001 % 251);
  auto none = core->read_phys(0x40001800, buf);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == EFAULT);
}

TEST_CASE("Corpus: a process core svedbg did not write (gcore style)") {
  auto core = open_ok("process-gcore-style.core");
  CHECK(core->vcpu_count() == 2);
  CHECK(core->describe().find("not written by svedbg") != std::string::npos);
  // Thread 1: SVE payload at VL 256 bits, max 512: effective VL from the header.
  CHECK(get_u64(*core, 0, kvm::zcr_el1()) == 1);
  CHECK(kvm::VqSet::from_bytes(std::span<const std::byte, 64>(get(*core, 0, kvm::sve_vls()))) ==
        kvm::VqSet::range(1, 4));
  CHECK(get_u64(*core, 0, kvm::core_fpsr()) == 0x10);  // from SVE_PT_SVE_FPSR_OFFSET, not the FPSIMD note
  CHECK(get_u64(*core, 0, kvm::core_fpcr()) == 0x20);
  const auto z1 = get(*core, 0, kvm::sve_zreg(1));
  CHECK(std::to_integer<unsigned>(z1[31]) == SimBackend::fixture_z_byte(0, 1, 31));
  CHECK(std::to_integer<unsigned>(z1[32]) == 0);
  const auto ffr = get(*core, 0, kvm::sve_ffr());
  CHECK(std::to_integer<unsigned>(ffr[3]) == 0xff);
  CHECK(std::to_integer<unsigned>(ffr[4]) == 0);
  // Thread 2: FPSIMD payload: V registers in the low 128 bits of Z, VL 128.
  CHECK(get_u64(*core, 1, kvm::zcr_el1()) == 0);
  const auto z2 = get(*core, 1, kvm::sve_zreg(1));
  CHECK(std::to_integer<unsigned>(z2[15]) == SimBackend::fixture_z_byte(1, 1, 15));
  CHECK(std::to_integer<unsigned>(z2[16]) == 0);
  CHECK(get_u64(*core, 1, kvm::core_fpsr()) == 0x11);
  // What a process core cannot know.
  std::vector<std::byte> buf(8);
  const Status s = core->get_one_reg(0, kvm::sctlr_el1(), buf);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ENOENT);
  CHECK(s.error().message.find("SCTLR_EL1 is not recorded in the core file (it has no SVEDBG note)") !=
        std::string::npos);
  // Memory by p_vaddr.
  std::vector<std::byte> m(4);
  REQUIRE(core->read_phys(0x400000, m).ok());
  CHECK(std::to_integer<unsigned>(m[0]) == 0x1f);
}
