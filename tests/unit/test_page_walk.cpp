// introspect::page_walk: the AArch64 stage-1 EL1&0 walk over translation
// tables built in a fake physical memory, per granule (4K, 16K, 64K), VA
// size, range (TTBR0/TTBR1), block and page mappings, TBI, EPD, invalid and
// reserved descriptors, address size faults, 52-bit formats (64K with
// FEAT_LPA, DS == 1), permissions, big-endian walks and the MMU off. One
// walk per granule is hand-computed: the comments show the index arithmetic
// (DDI 0487 D8.2 "Translation process"). The limits of each rule (TnSZ per
// granule and DS, start level, block levels, DS per granule, the edges of
// both VA ranges, EPDn) are checked just inside and just outside.
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "introspect/page_walk.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

// TCR_EL1 fields, encoded from the register description (DDI 0487 D19).
constexpr std::uint64_t t0sz(unsigned n) { return n; }
constexpr std::uint64_t t1sz(unsigned n) { return std::uint64_t{n} << 16; }
constexpr std::uint64_t kTg0_4K = std::uint64_t{0b00} << 14;
constexpr std::uint64_t kTg0_64K = std::uint64_t{0b01} << 14;
constexpr std::uint64_t kTg0_16K = std::uint64_t{0b10} << 14;
constexpr std::uint64_t kTg1_16K = std::uint64_t{0b01} << 30;
constexpr std::uint64_t kTg1_4K = std::uint64_t{0b10} << 30;
constexpr std::uint64_t kTg1_64K = std::uint64_t{0b11} << 30;
constexpr std::uint64_t ips(unsigned v) { return std::uint64_t{v} << 32; }
constexpr std::uint64_t kEpd0 = std::uint64_t{1} << 7;
constexpr std::uint64_t kEpd1 = std::uint64_t{1} << 23;
constexpr std::uint64_t kTbi0 = std::uint64_t{1} << 37;
constexpr std::uint64_t kTbi1 = std::uint64_t{1} << 38;
constexpr std::uint64_t kHpd0 = std::uint64_t{1} << 41;
constexpr std::uint64_t kDs = std::uint64_t{1} << 59;
constexpr std::uint64_t kIps48 = ips(0b101);
constexpr std::uint64_t kIps52 = ips(0b110);

constexpr std::uint64_t kSctlrM = 1;
constexpr std::uint64_t kSctlrEe = std::uint64_t{1} << 25;

// Descriptor bits (D8.3).
constexpr std::uint64_t kTable = 0b11;
constexpr std::uint64_t kPage = 0b11;
constexpr std::uint64_t kBlock = 0b01;
constexpr std::uint64_t kAf = std::uint64_t{1} << 10;
constexpr std::uint64_t kNg = std::uint64_t{1} << 11;
constexpr std::uint64_t kPxn = std::uint64_t{1} << 53;
constexpr std::uint64_t kUxn = std::uint64_t{1} << 54;
constexpr std::uint64_t kPxnTable = std::uint64_t{1} << 59;
constexpr std::uint64_t kApTable0 = std::uint64_t{1} << 61;
constexpr std::uint64_t kApTable1 = std::uint64_t{1} << 62;
constexpr std::uint64_t ap(unsigned v) { return std::uint64_t{v} << 6; }
constexpr std::uint64_t attr(unsigned i) { return std::uint64_t{i} << 2; }

constexpr std::uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;

// Physical memory holding descriptors: words not written read as 0 (an
// invalid descriptor) below `ram_end`; reads at or above it fail.
class PhysMem {
 public:
  explicit PhysMem(std::uint64_t ram_end = std::uint64_t{1} << 40) : ram_end_(ram_end) {}
  void put(std::uint64_t pa, std::uint64_t desc) {
    REQUIRE(pa % 8 == 0);
    words_[pa] = desc;
  }
  PhysReader reader() {
    return [this](std::uint64_t pa) -> Result<std::uint64_t> {
      ++reads;
      if (pa % 8 != 0) return make_error(EINVAL, "misaligned descriptor read at {:#x}", pa);
      if (pa >= ram_end_) return make_error(EFAULT, "no RAM at {:#x}", pa);
      auto it = words_.find(pa);
      return it == words_.end() ? std::uint64_t{0} : it->second;
    };
  }
  int reads = 0;

 private:
  std::uint64_t ram_end_;
  std::map<std::uint64_t, std::uint64_t> words_;
};

// Builds tables for one granule and VA size from `root`, allocating further
// tables one granule apart from `pool`. The start level is given by the
// test (not derived), so the walker's own derivation is checked.
class Tables {
 public:
  Tables(PhysMem& mem, unsigned granule_bits, unsigned va_bits, int start_level, std::uint64_t root, std::uint64_t pool)
      : mem_(mem), gb_(granule_bits), va_bits_(va_bits), start_(start_level), root_(root), next_(pool) {}

  std::uint64_t index(std::uint64_t va, int level) const {
    const unsigned stride = gb_ - 3;
    const unsigned shift = gb_ + stride * static_cast<unsigned>(3 - level);
    const unsigned width = level == start_ ? va_bits_ - shift : stride;
    return (va >> shift) & ((std::uint64_t{1} << width) - 1);
  }
  // The table that holds `va`'s entry at `level`, creating the path to it.
  std::uint64_t table_for(std::uint64_t va, int level, std::uint64_t table_bits = 0) {
    std::uint64_t table = root_;
    for (int l = start_; l < level; ++l) {
      const std::uint64_t at = table + index(va, l) * 8;
      auto it = tables_.find(at);
      if (it == tables_.end()) {
        const std::uint64_t t = next_;
        next_ += std::uint64_t{1} << gb_;
        mem_.put(at, t | kTable | table_bits);
        it = tables_.emplace(at, t).first;
      }
      table = it->second;
    }
    return table;
  }
  std::uint64_t entry_pa(std::uint64_t va, int level) { return table_for(va, level) + index(va, level) * 8; }
  // A block (level < 3) or page mapping `va`'s entry to `oa`.
  void map(std::uint64_t va, std::uint64_t oa, int level, std::uint64_t attrs = kAf) {
    mem_.put(entry_pa(va, level), oa | attrs | (level == 3 ? kPage : kBlock));
  }

 private:
  PhysMem& mem_;
  unsigned gb_, va_bits_;
  int start_;
  std::uint64_t root_, next_;
  std::map<std::uint64_t, std::uint64_t> tables_;  // descriptor PA -> table it points to
};

TranslationRegs regs(std::uint64_t tcr, std::uint64_t ttbr0, std::uint64_t ttbr1 = 0, std::uint64_t sctlr = kSctlrM) {
  return TranslationRegs{sctlr, tcr, ttbr0, ttbr1};
}

Translation ok(const TranslationRegs& r, std::uint64_t va, PhysMem& mem) {
  auto t = translate(r, va, mem.reader());
  INFO("VA " << std::hex << va << ": " << (t ? std::string("ok") : t.error().message));
  REQUIRE(t.ok());
  return *t;
}

std::string fails(const TranslationRegs& r, std::uint64_t va, PhysMem& mem, std::vector<WalkLevel>* trace = nullptr) {
  auto t = translate(r, va, mem.reader(), trace);
  INFO("VA " << std::hex << va << (t ? " translated to " : "") << (t ? t->pa : 0));
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == EFAULT);
  return t.error().message;
}

std::vector<int> level_numbers(const Translation& t) {
  std::vector<int> out;
  for (const auto& l : t.levels) out.push_back(l.level);
  return out;
}

std::vector<std::string> kinds(const Translation& t) {
  std::vector<std::string> out;
  for (const auto& l : t.levels) out.push_back(l.kind);
  return out;
}

constexpr std::uint64_t kTcr4K48 = t0sz(16) | kTg0_4K | t1sz(16) | kTg1_4K | kIps48;

}  // namespace

TEST_CASE("page walk: 4K granule, 48-bit VA, hand-computed four-level TTBR0 walk", "[pagewalk]") {
  // VA 0x0000_1234_5678_9abc, T0SZ = 16: 48-bit VA, start level 3 - (47-12)/9 = 0.
  //   binary of VA[47:0]: 0001 0010 0011 0100 0101 0110 0111 1000 1001 1010 1011 1100
  //   L0 index VA[47:39] = 0001 0010 0         = 0x024 -> desc 0x40000000 + 0x24*8  = 0x40000120
  //   L1 index VA[38:30] = 011 0100 01         = 0x0d1 -> desc 0x40001000 + 0xd1*8  = 0x40001688
  //   L2 index VA[29:21] = 01 0110 011         = 0x0b3 -> desc 0x40002000 + 0xb3*8  = 0x40002598
  //   L3 index VA[20:12] = 1 1000 1001         = 0x189 -> desc 0x40003000 + 0x189*8 = 0x40003c48
  //   offset   VA[11:0]  = 1010 1011 1100      = 0xabc -> PA 0x87654000 + 0xabc = 0x87654abc
  PhysMem mem;
  mem.put(0x40000120, 0x40001000 | kTable);
  mem.put(0x40001688, 0x40002000 | kTable);
  mem.put(0x40002598, 0x40003000 | kTable);
  mem.put(0x40003c48, 0x87654000 | kAf | ap(0b00) | attr(4) | kNg | kUxn | kPage);
  const auto r = regs(kTcr4K48, 0x40000000);
  const Translation t = ok(r, 0x0000123456789abc, mem);
  CHECK(t.pa == 0x87654abc);
  CHECK(t.size == 0x1000 - 0xabc);
  CHECK(t.entry_size == 4 * kKiB);
  CHECK(t.granule == 4096);
  CHECK(t.va_bits == 48);
  CHECK(t.pa_bits == 48);
  CHECK(t.start_level == 0);
  CHECK(t.leaf_level == 3);
  CHECK_FALSE(t.upper);
  CHECK(level_numbers(t) == std::vector<int>{0, 1, 2, 3});
  CHECK(kinds(t) == std::vector<std::string>{"table", "table", "table", "page"});
  const std::array<std::uint64_t, 4> tables = {0x40000000, 0x40001000, 0x40002000, 0x40003000};
  const std::array<std::uint64_t, 4> indexes = {0x24, 0xd1, 0xb3, 0x189};
  const std::array<std::uint64_t, 4> descs = {0x40000120, 0x40001688, 0x40002598, 0x40003c48};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(t.levels[i].table_pa == tables[i]);
    CHECK(t.levels[i].index == indexes[i]);
    CHECK(t.levels[i].desc_pa == descs[i]);
  }
  CHECK(t.levels[3].descriptor == (0x87654000 | kAf | attr(4) | kNg | kUxn | kPage));
  CHECK(t.writable);
  CHECK_FALSE(t.user);
  CHECK(t.attr_index == 4);
  CHECK(t.access_flag);
  CHECK_FALSE(t.global);
  CHECK(t.uxn);
  CHECK_FALSE(t.pxn);

  // Same page, other offsets: only the offset changes.
  CHECK(ok(r, 0x0000123456789000, mem).pa == 0x87654000);
  CHECK(ok(r, 0x0000123456789fff, mem).size == 1);

  CHECK(format_walk(t) ==
        "VA 0x123456789abc: TTBR0_EL1 = 0x40000000 (ASID 0x0), 4K granule, 48-bit VA, 48-bit PA, start level 0\n"
        "  level  0: table 0x40000000[0x24]: descriptor at PA 0x40000120 = 0x0000000040001003 table\n"
        "  level  1: table 0x40001000[0xd1]: descriptor at PA 0x40001688 = 0x0000000040002003 table\n"
        "  level  2: table 0x40002000[0xb3]: descriptor at PA 0x40002598 = 0x0000000040003003 table\n"
        "  level  3: table 0x40003000[0x189]: descriptor at PA 0x40003c48 = 0x0040000087654c13 page\n"
        "  => PA 0x87654abc: 4K page, 0x544 bytes to its end; EL1 RW, EL0 none (AP[2:1] = 0b00), UXN; AttrIndx 4, "
        "AF, nG\n");
}

TEST_CASE("page walk: 4K granule, TTBR1 kernel VAs, 2 MiB and 1 GiB blocks", "[pagewalk]") {
  PhysMem mem;
  SECTION("48-bit TTBR1: 2 MiB block at level 2") {
    // VA 0xffff_8000_1234_5678, T1SZ = 16. VA[55] = 1 selects TTBR1; bits
    // [63:48] are all ones. L0 index VA[47:39] = 1 0000 0000 = 0x100,
    // L1 VA[38:30] = 0, L2 VA[29:21] = 0x12345678 >> 21 = 0x91; offset
    // VA[20:0] = 0x145678.
    mem.put(0x50000000 + 0x100 * 8, 0x50001000 | kTable);
    mem.put(0x50001000 + 0 * 8, 0x50002000 | kTable);
    mem.put(0x50002000 + 0x91 * 8, 0x80200000 | kAf | ap(0b10) | kPxn | kBlock);
    const Translation t = ok(regs(kTcr4K48, 0, 0x50000000), 0xffff800012345678, mem);
    CHECK(t.upper);
    CHECK(t.pa == 0x80200000 + 0x145678);
    CHECK(t.size == 2 * kMiB - 0x145678);
    CHECK(t.entry_size == 2 * kMiB);
    CHECK(level_numbers(t) == std::vector<int>{0, 1, 2});
    CHECK(kinds(t) == std::vector<std::string>{"table", "table", "block"});
    CHECK(t.levels[0].index == 0x100);
    CHECK(t.levels[2].index == 0x91);
    CHECK_FALSE(t.writable);
    CHECK(t.pxn);
  }
  SECTION("39-bit TTBR0 (T0SZ = 25) starts at level 1: 1 GiB block") {
    // Start level 3 - (38-12)/9 = 1. VA 0x40_4000_1234: L1 index
    // VA[38:30] = 0x4040001234 >> 30 = 0x101, offset VA[29:0] = 0x1234.
    const std::uint64_t tcr = t0sz(25) | kTg0_4K | t1sz(25) | kTg1_4K | kIps48;
    mem.put(0x60000000 + 0x101 * 8, 0xc0000000 | kAf | ap(0b01) | kBlock);
    const Translation t = ok(regs(tcr, 0x60000000), 0x4040001234, mem);
    CHECK(t.start_level == 1);
    CHECK(t.va_bits == 39);
    CHECK(t.pa == 0xc0001234);
    CHECK(t.size == kGiB - 0x1234);
    CHECK(level_numbers(t) == std::vector<int>{1});
    CHECK(kinds(t) == std::vector<std::string>{"block"});
    CHECK(t.user);
    CHECK(t.writable);
    CHECK(t.pxn);  // writable at EL0, hence never executable at EL1
  }
  SECTION("39-bit TTBR1 (T1SZ = 25): 4K page") {
    const std::uint64_t tcr = t0sz(25) | kTg0_4K | t1sz(25) | kTg1_4K | kIps48;
    Tables tb(mem, 12, 39, 1, 0x61000000, 0x61001000);
    const std::uint64_t va = 0xffffff8000abc123;  // lowest GiB of the 39-bit upper range
    tb.map(va, 0x9abcd000, 3);
    const Translation t = ok(regs(tcr, 0, 0x61000000), va, mem);
    CHECK(t.pa == 0x9abcd123);
    CHECK(t.start_level == 1);
    CHECK(level_numbers(t) == std::vector<int>{1, 2, 3});
    CHECK(t.levels[0].index == 0);  // VA[38:30] of 0x...ff8000abc123 is 0
  }
  SECTION("42-bit TTBR0 (T0SZ = 22) starts at level 0 with an 8-entry table") {
    // 3 - (41-12)/9 = 0; level 0 resolves VA[41:39] only.
    const std::uint64_t tcr = t0sz(22) | kTg0_4K | t1sz(16) | kTg1_4K | kIps48;
    Tables tb(mem, 12, 42, 0, 0x62000000, 0x62001000);
    const std::uint64_t va = 0x000002abcdef0123;  // VA[41:39] = 0b101
    tb.map(va, 0x7fe00000, 2);
    const Translation t = ok(regs(tcr, 0x62000000), va, mem);
    CHECK(t.start_level == 0);
    CHECK(t.levels[0].index == 5);
    CHECK(t.levels[0].desc_pa == 0x62000000 + 5 * 8);
    CHECK(t.pa == 0x7fe00000 + (va & (2 * kMiB - 1)));
  }
}

TEST_CASE("page walk: 16K granule", "[pagewalk]") {
  PhysMem mem;
  SECTION("48-bit VA, hand-computed four-level walk from a 2-entry level 0 table") {
    // TG0 = 0b10 (16K), T0SZ = 16: start level 3 - (47-14)/11 = 0, which
    // resolves VA[47] only; stride 11 below it.
    //   VA 0x0000_9234_5678_9abc, VA[47:0] in binary:
    //   1001 0010 0011 0100 0101 0110 0111 1000 1001 1010 1011 1100
    //   L0 index VA[47]    = 1                  = 0x1   -> desc 0x40000000 + 0x1*8   = 0x40000008
    //   L1 index VA[46:36] = 001 0010 0011      = 0x123 -> desc 0x40004000 + 0x123*8 = 0x40004918
    //   L2 index VA[35:25] = 0100 0101 011      = 0x22b -> desc 0x40008000 + 0x22b*8 = 0x40009158
    //   L3 index VA[24:14] = 0 0111 1000 10     = 0x1e2 -> desc 0x4000c000 + 0x1e2*8 = 0x4000cf10
    //   offset   VA[13:0]  = 01 1010 1011 1100  = 0x1abc -> PA 0x123400000 + 0x1abc
    mem.put(0x40000008, 0x40004000 | kTable);
    mem.put(0x40004918, 0x40008000 | kTable);
    mem.put(0x40009158, 0x4000c000 | kTable);
    mem.put(0x4000cf10, 0x123400000 | kAf | ap(0b11) | kPage);
    const std::uint64_t tcr = t0sz(16) | kTg0_16K | t1sz(16) | kTg1_16K | kIps48;
    const Translation t = ok(regs(tcr, 0x40000000), 0x0000923456789abc, mem);
    CHECK(t.granule == 16384);
    CHECK(t.start_level == 0);
    CHECK(t.pa == 0x123401abc);
    CHECK(t.size == 0x4000 - 0x1abc);
    CHECK(level_numbers(t) == std::vector<int>{0, 1, 2, 3});
    const std::array<std::uint64_t, 4> indexes = {0x1, 0x123, 0x22b, 0x1e2};
    const std::array<std::uint64_t, 4> descs = {0x40000008, 0x40004918, 0x40009158, 0x4000cf10};
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(t.levels[i].index == indexes[i]);
      CHECK(t.levels[i].desc_pa == descs[i]);
    }
    CHECK(t.user);
    CHECK_FALSE(t.writable);
  }
  SECTION("47-bit VA (T0SZ = 17) starts at level 1: 32 MiB block at level 2") {
    // 3 - (46-14)/11 = 1. VA 0x1234_5678_9abc: offset VA[24:0] = 0x0789abc.
    const std::uint64_t tcr = t0sz(17) | kTg0_16K | t1sz(17) | kTg1_16K | kIps48;
    Tables tb(mem, 14, 47, 1, 0x41000000, 0x41004000);
    const std::uint64_t va = 0x0000123456789abc;
    tb.map(va, 0x82000000, 2);
    const Translation t = ok(regs(tcr, 0x41000000), va, mem);
    CHECK(t.start_level == 1);
    CHECK(t.levels[0].index == (va >> 36));  // all of VA[46:36]
    CHECK(kinds(t) == std::vector<std::string>{"table", "block"});
    CHECK(t.pa == 0x82789abc);
    CHECK(t.entry_size == 32 * kMiB);
    CHECK(t.size == 32 * kMiB - 0x789abc);
  }
  SECTION("36-bit TTBR1 (T1SZ = 28) starts at level 2") {
    // 3 - (35-14)/11 = 2; level 2 resolves VA[35:25] (11 bits).
    const std::uint64_t tcr = t0sz(28) | kTg0_16K | t1sz(28) | kTg1_16K | kIps48;
    Tables tb(mem, 14, 36, 2, 0x42000000, 0x42004000);
    const std::uint64_t va = 0xfffffff876544321;
    tb.map(va, 0x3fff0000, 3);
    const Translation t = ok(regs(tcr, 0, 0x42000000), va, mem);
    CHECK(t.start_level == 2);
    CHECK(t.levels[0].index == ((va >> 25) & 0x7ff));
    CHECK(t.pa == 0x3fff0000 + (va & 0x3fff));
  }
  SECTION("a level 1 block needs DS == 1") {
    const std::uint64_t tcr = t0sz(17) | kTg0_16K | t1sz(17) | kTg1_16K | kIps48;
    Tables tb(mem, 14, 47, 1, 0x43000000, 0x43004000);
    tb.map(0x1000000000, 0x1000000000, 1);
    const auto msg = fails(regs(tcr, 0x43000000), 0x1000000000, mem);
    CHECK(msg.find("level 1 descriptor at PA 0x43000008 is invalid (0x1000000401)") != std::string::npos);
    CHECK(msg.find("16K granule has blocks at level 2") != std::string::npos);
  }
}

TEST_CASE("page walk: 64K granule", "[pagewalk]") {
  PhysMem mem;
  SECTION("48-bit VA, hand-computed three-level walk") {
    // TG0 = 0b01 (64K), T0SZ = 16: start level 3 - (47-16)/13 = 1.
    //   VA 0x0000_fedc_ba98_7654, VA[47:0] in binary:
    //   1111 1110 1101 1100 1011 1010 1001 1000 0111 0110 0101 0100
    //   L1 index VA[47:42] = 1111 11             = 0x3f   -> desc 0x40000000 + 0x3f*8   = 0x400001f8
    //   L2 index VA[41:29] = 10 1101 1100 101    = 0x16e5 -> desc 0x40010000 + 0x16e5*8 = 0x4001b728
    //   L3 index VA[28:16] = 1 1010 1001 1000    = 0x1a98 -> desc 0x40020000 + 0x1a98*8 = 0x4002d4c0
    //   offset   VA[15:0]  = 0x7654                       -> PA 0x987650000 + 0x7654
    mem.put(0x400001f8, 0x40010000 | kTable);
    mem.put(0x4001b728, 0x40020000 | kTable);
    mem.put(0x4002d4c0, 0x987650000 | kAf | kPage);
    const std::uint64_t tcr = t0sz(16) | kTg0_64K | t1sz(16) | kTg1_64K | kIps48;
    const Translation t = ok(regs(tcr, 0x40000000), 0x0000fedcba987654, mem);
    CHECK(t.granule == 65536);
    CHECK(t.start_level == 1);
    CHECK(level_numbers(t) == std::vector<int>{1, 2, 3});
    const std::array<std::uint64_t, 3> indexes = {0x3f, 0x16e5, 0x1a98};
    const std::array<std::uint64_t, 3> descs = {0x400001f8, 0x4001b728, 0x4002d4c0};
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(t.levels[i].index == indexes[i]);
      CHECK(t.levels[i].desc_pa == descs[i]);
    }
    CHECK(t.pa == 0x987657654);
    CHECK(t.size == 0x10000 - 0x7654);
  }
  SECTION("42-bit VA (T0SZ = 22) starts at level 2: 512 MiB block") {
    // 3 - (41-16)/13 = 2; level 2 resolves VA[41:29] (13 bits).
    const std::uint64_t tcr = t0sz(22) | kTg0_64K | t1sz(22) | kTg1_64K | kIps48;
    Tables tb(mem, 16, 42, 2, 0x44000000, 0x44010000);
    const std::uint64_t va = 0x0000012345678abc;
    tb.map(va, 0x60000000, 2);
    const Translation t = ok(regs(tcr, 0x44000000), va, mem);
    CHECK(t.start_level == 2);
    CHECK(t.levels[0].index == (va >> 29));
    CHECK(kinds(t) == std::vector<std::string>{"block"});
    CHECK(t.pa == 0x60000000 + (va & (512 * kMiB - 1)));
    CHECK(t.entry_size == 512 * kMiB);
  }
  SECTION("TTBR1 with the 64K granule (TG1 = 0b11)") {
    const std::uint64_t tcr = t0sz(16) | kTg0_64K | t1sz(16) | kTg1_64K | kIps48;
    Tables tb(mem, 16, 48, 1, 0x45000000, 0x45010000);
    const std::uint64_t va = 0xffff000012345678;
    tb.map(va, 0x880000000, 3);
    const Translation t = ok(regs(tcr, 0, 0x45000000), va, mem);
    CHECK(t.upper);
    CHECK(t.pa == 0x880005678);
  }
  SECTION("a level 1 (4 TiB) block needs FEAT_LPA, i.e. a 52-bit IPS") {
    const std::uint64_t tcr = t0sz(16) | kTg0_64K | t1sz(16) | kTg1_64K | kIps48;
    mem.put(0x46000000 + 8, 0x40000000000 | kAf | kBlock);  // VA[47:42] = 1
    const auto msg = fails(regs(tcr, 0x46000000), 0x40000000000, mem);
    CHECK(msg.find("level 1 descriptor at PA 0x46000008 is invalid") != std::string::npos);
    CHECK(msg.find("FEAT_LPA") != std::string::npos);
  }
}

TEST_CASE("page walk: 52-bit addresses, 64K granule with FEAT_LPA", "[pagewalk]") {
  // IPS = 0b110 (52 bits), T0SZ = 12 (52-bit VA, FEAT_LVA): start level
  // 3 - (51-16)/13 = 1, which resolves VA[51:42] (1024 entries, an 8 KiB
  // table). TTBR0 BADDR[51:48] sits in TTBR[5:2]; descriptors carry
  // OA[51:48] in bits [15:12].
  PhysMem mem(std::uint64_t{1} << 52);
  const std::uint64_t tcr = t0sz(12) | kTg0_64K | t1sz(12) | kTg1_64K | kIps52;
  const std::uint64_t root = 0x000a000040000000;
  const std::uint64_t ttbr0 = 0x40000000 | (0xa << 2) | 1;  // BADDR[51:48] = 0xa, CnP set
  SECTION("4 TiB block at level 1 with OA above 2^48") {
    const std::uint64_t va = 0x000f123456789abc;  // VA[51:42] = 0x3c4
    REQUIRE((va >> 42) == 0x3c4);
    mem.put(root + 0x3c4 * 8, 0x0000040000000000 | (0xbull << 12) | kAf | kBlock);  // OA 0xb_0400_0000_0000
    const Translation t = ok(regs(tcr, ttbr0), va, mem);
    CHECK(t.pa_bits == 52);
    CHECK(t.va_bits == 52);
    CHECK(t.start_level == 1);
    CHECK(t.levels[0].table_pa == root);
    CHECK(t.levels[0].desc_pa == root + 0x3c4 * 8);
    CHECK(t.pa == 0x000b040000000000 + (va & (4 * kTiB - 1)));
    CHECK(t.entry_size == 4 * kTiB);
  }
  SECTION("table and page above 2^48") {
    const std::uint64_t va = 0x0000000012345678;                        // L1 index 0, L2 index 0, L3 index 0x1234
    mem.put(root, 0x50000000 | (0xcull << 12) | kTable);                // next table 0xc_0000_5000_0000
    mem.put(0x000c000050000000, 0x60000000 | (0x1ull << 12) | kTable);  // 0x1_0000_6000_0000
    mem.put(0x0001000060000000 + 0x1234 * 8, 0x70000000 | (0xfull << 12) | kAf | kPage);
    const Translation t = ok(regs(tcr, ttbr0), va, mem);
    CHECK(t.levels[1].table_pa == 0x000c000050000000);
    CHECK(t.levels[2].table_pa == 0x0001000060000000);
    CHECK(t.pa == 0x000f000070005678);
  }
  SECTION("OA[51:48] with a 48-bit IPS is an address size fault") {
    const std::uint64_t tcr48 = t0sz(16) | kTg0_64K | t1sz(16) | kTg1_64K | kIps48;
    mem.put(0x40000000, 0x50000000 | (0xcull << 12) | kTable);
    const auto msg = fails(regs(tcr48, 0x40000000), 0x1234, mem);
    CHECK(msg.find("next-level table address 0xc000050000000, beyond the 48-bit output address size") !=
          std::string::npos);
  }
}

TEST_CASE("page walk: 52-bit addresses with TCR_EL1.DS (FEAT_LPA2)", "[pagewalk]") {
  PhysMem mem(std::uint64_t{1} << 52);
  SECTION("4K, T1SZ = 12 starts at level -1; OA[51:50] in bits [9:8], OA[49:48] in place") {
    // 3 - (51-12)/9 = -1: level -1 resolves VA[51:48] (16 entries).
    const std::uint64_t tcr = t0sz(16) | kTg0_4K | t1sz(12) | kTg1_4K | ips(0b110) | kDs;
    const std::uint64_t root = 0x0003000040000000;  // BADDR[51:48] = 0x3
    const std::uint64_t ttbr1 = 0x40000000 | (0x3 << 2);
    Tables tb(mem, 12, 52, -1, root, 0x41000000);
    const std::uint64_t va = 0xfff8000012345678;  // VA[51:48] = 8
    // Page at OA 0xd_1234_5678_9000: [51:50] = 0b11 -> desc[9:8], [49:48] = 0b01 -> desc[49:48].
    mem.put(tb.entry_pa(va, 3),
            0x0000123456789000 | (std::uint64_t{1} << 48) | (std::uint64_t{0b11} << 8) | kAf | kPage);
    const Translation t = ok(regs(tcr, 0, ttbr1), va, mem);
    CHECK(t.start_level == -1);
    CHECK(level_numbers(t) == std::vector<int>{-1, 0, 1, 2, 3});
    CHECK(t.levels[0].table_pa == root);
    CHECK(t.levels[0].index == 8);
    CHECK(t.pa == 0x000d123456789678);
  }
  SECTION("4K level 0 (512 GiB) block with DS") {
    const std::uint64_t tcr = t0sz(16) | kTg0_4K | t1sz(16) | kTg1_4K | ips(0b110) | kDs;
    mem.put(0x40000000 + 3 * 8, 0x0000018000000000 | (std::uint64_t{0b10} << 8) | kAf | kBlock);
    const std::uint64_t va = 0x0000018000001234;  // VA[47:39] = 3
    const Translation t = ok(regs(tcr, 0x40000000), va, mem);
    CHECK(kinds(t) == std::vector<std::string>{"block"});
    CHECK(t.entry_size == 512 * kGiB);
    CHECK(t.pa == 0x0008018000001234);
  }
  SECTION("16K level 1 (64 GiB) block with DS") {
    const std::uint64_t tcr = t0sz(17) | kTg0_16K | t1sz(17) | kTg1_16K | kIps48 | kDs;
    mem.put(0x40000000 + 2 * 8, 0x0000002000000000 | kAf | kBlock);
    const Translation t = ok(regs(tcr, 0x40000000), 0x0000002000abcdef, mem);
    CHECK(t.entry_size == 64 * kGiB);
    CHECK(t.pa == 0x0000002000abcdef);
  }
  SECTION("without DS the same 4K level 0 block is invalid") {
    mem.put(0x40000000 + 3 * 8, 0x0000018000000000 | kAf | kBlock);
    const auto msg = fails(regs(kTcr4K48, 0x40000000), 0x0000018000001234, mem);
    CHECK(msg.find("level 0 descriptor at PA 0x40000018 is invalid (0x18000000401): a block at level 0") !=
          std::string::npos);
  }
}

TEST_CASE("page walk: VA range selection, holes, TBI and EPD", "[pagewalk]") {
  PhysMem mem;
  Tables lo(mem, 12, 48, 0, 0x40000000, 0x40100000);
  Tables hi(mem, 12, 48, 0, 0x48000000, 0x48100000);
  lo.map(0x0000123456789000, 0x81234000, 3);
  hi.map(0xffff800012345000, 0x91234000, 3);
  SECTION("each half walks its own TTBR") {
    const auto r = regs(kTcr4K48, 0x40000000, 0x48000000);
    CHECK(ok(r, 0x0000123456789abc, mem).pa == 0x81234abc);
    CHECK(ok(r, 0xffff800012345678, mem).pa == 0x91234678);
    CHECK(ok(r, 0xffff800012345678, mem).levels[0].table_pa == 0x48000000);
  }
  SECTION("VAs in the hole between the ranges are translation faults") {
    const auto r = regs(kTcr4K48, 0x40000000, 0x48000000);
    const int before = mem.reads;
    auto msg = fails(r, 0x0001000000000000, mem);
    CHECK(msg ==
          "VA 0x1000000000000 is outside both translation ranges: VA[55] = 0 selects TTBR0_EL1, whose 48-bit range "
          "(T0SZ = 16) needs bits [63:48] all zeros (top byte not ignored: TBI clear) (translation fault, level 0)");
    msg = fails(r, 0xfffeffffffffffff, mem);
    CHECK(msg.find("VA[55] = 1 selects TTBR1_EL1") != std::string::npos);
    fails(r, 0x0080000000000000, mem);  // VA[55] = 1 but [63:56] zero
    fails(r, 0x8000123456789abc, mem);  // tag bits without TBI
    CHECK(mem.reads == before);         // no descriptor read
    // 39-bit ranges: the hole is much larger.
    const std::uint64_t tcr39 = t0sz(25) | kTg0_4K | t1sz(25) | kTg1_4K | kIps48;
    fails(regs(tcr39, 0x40000000), 0x0000008000000000, mem);
    fails(regs(tcr39, 0x40000000), 0xffffff7ffffff000, mem);
  }
  SECTION("TBI0/TBI1: tagged pointers translate like untagged ones") {
    const auto r = regs(kTcr4K48 | kTbi0 | kTbi1, 0x40000000, 0x48000000);
    const Translation a = ok(r, 0x5a00123456789abc, mem);
    CHECK(a.pa == 0x81234abc);
    CHECK(a.tbi);
    CHECK_FALSE(a.upper);
    CHECK(ok(r, 0xff00123456789abc, mem).pa == 0x81234abc);  // VA[55] = 0: TTBR0, any tag
    const Translation b = ok(r, 0x12ff800012345678, mem);    // VA[55] = 1: TTBR1
    CHECK(b.upper);
    CHECK(b.pa == 0x91234678);
    CHECK(format_walk(b).find("tag 0x12 ignored (TBI1)") != std::string::npos);
    // TBI0 alone leaves the upper range untagged.
    fails(regs(kTcr4K48 | kTbi0, 0x40000000, 0x48000000), 0x12ff800012345678, mem);
    // TBI does not hide bits [55:48].
    fails(r, 0x5a01123456789abc, mem);
  }
  SECTION("EPD0/EPD1 disable one half's walks") {
    auto msg = fails(regs(kTcr4K48 | kEpd0, 0x40000000, 0x48000000), 0x0000123456789abc, mem);
    CHECK(msg ==
          "VA 0x123456789abc: walks from TTBR0_EL1 are disabled (TCR_EL1.EPD0 == 1; translation fault, level 0)");
    CHECK(ok(regs(kTcr4K48 | kEpd0, 0x40000000, 0x48000000), 0xffff800012345678, mem).pa == 0x91234678);
    msg = fails(regs(kTcr4K48 | kEpd1, 0x40000000, 0x48000000), 0xffff800012345678, mem);
    CHECK(msg.find("TTBR1_EL1 are disabled (TCR_EL1.EPD1 == 1") != std::string::npos);
    CHECK(ok(regs(kTcr4K48 | kEpd1, 0x40000000, 0x48000000), 0x0000123456789abc, mem).pa == 0x81234abc);
  }
}

TEST_CASE("page walk: TG0 and TG1 encode granules differently", "[pagewalk]") {
  // TG0: 0b00 4K, 0b01 64K, 0b10 16K. TG1: 0b01 16K, 0b10 4K, 0b11 64K.
  struct Case {
    std::uint64_t tg;
    bool upper;
    unsigned granule;
  };
  const std::array<Case, 6> cases = {{{std::uint64_t{0b00} << 14, false, 4096},
                                      {std::uint64_t{0b01} << 14, false, 65536},
                                      {std::uint64_t{0b10} << 14, false, 16384},
                                      {std::uint64_t{0b01} << 30, true, 16384},
                                      {std::uint64_t{0b10} << 30, true, 4096},
                                      {std::uint64_t{0b11} << 30, true, 65536}}};
  for (const auto& c : cases) {
    // 36-bit ranges start at level 1 (4K) or 2 (16K, 64K), where a block
    // is allowed: one block at index 0 of the root table is the whole walk.
    const std::uint64_t tcr = t0sz(28) | t1sz(28) | kIps48 | c.tg | (c.upper ? kTg0_4K : kTg1_4K);
    PhysMem m;
    m.put(0x40000000, 0x80000000 | kAf | kBlock);
    const std::uint64_t va = c.upper ? 0xfffffff000000000 : 0;
    auto t = translate(regs(tcr, 0x40000000, 0x40000000), va, m.reader());
    INFO("TG " << std::hex << c.tg << (t ? "" : t.error().message));
    REQUIRE(t.ok());
    CHECK(t->granule == c.granule);
  }
  PhysMem mem;
  auto msg = fails(regs(kTcr4K48 | (std::uint64_t{0b11} << 14), 0x40000000), 0x1000, mem);
  CHECK(msg.find("TCR_EL1.TG0 = 0b11 is a reserved granule encoding") != std::string::npos);
  msg = fails(regs((kTcr4K48 & ~(std::uint64_t{3} << 30)), 0x40000000, 0x40000000), 0xffff000000001000, mem);
  CHECK(msg.find("TCR_EL1.TG1 = 0b00 is a reserved granule encoding") != std::string::npos);
}

TEST_CASE("page walk: invalid and reserved descriptors at each level", "[pagewalk]") {
  // The hand-computed 4K walk of VA 0x1234_5678_9abc, cut at each level.
  const std::uint64_t va = 0x0000123456789abc;
  const std::array<std::uint64_t, 4> descs = {0x40000120, 0x40001688, 0x40002598, 0x40003c48};
  const std::array<std::uint64_t, 4> next = {0x40001000 | kTable, 0x40002000 | kTable, 0x40003000 | kTable,
                                             0x87654000 | kAf | kPage};
  for (int cut = 0; cut < 4; ++cut) {
    PhysMem mem;
    for (int l = 0; l < cut; ++l) mem.put(descs[static_cast<std::size_t>(l)], next[static_cast<std::size_t>(l)]);
    mem.put(descs[static_cast<std::size_t>(cut)], 0xdead0000);  // bit 0 clear: invalid, whatever else is set
    std::vector<WalkLevel> trace;
    const auto msg = fails(regs(kTcr4K48, 0x40000000), va, mem, &trace);
    CHECK(msg == fmt::format("VA 0x123456789abc: level {} descriptor at PA {:#x} is invalid (0xdead0000)", cut,
                             descs[static_cast<std::size_t>(cut)]));
    REQUIRE(trace.size() == static_cast<std::size_t>(cut + 1));
    CHECK(trace.back().kind == "invalid");
    CHECK(trace.back().level == cut);
    CHECK(trace.back().descriptor == 0xdead0000);
    CHECK(format_levels(trace).find("= 0x00000000dead0000 invalid") != std::string::npos);
  }
  SECTION("an all-zero descriptor") {
    PhysMem mem;
    const auto msg = fails(regs(kTcr4K48, 0x40000000), va, mem);
    CHECK(msg == "VA 0x123456789abc: level 0 descriptor at PA 0x40000120 is invalid (0x0)");
  }
  SECTION("0b01 at level 3 is reserved") {
    PhysMem mem;
    for (int l = 0; l < 3; ++l) mem.put(descs[static_cast<std::size_t>(l)], next[static_cast<std::size_t>(l)]);
    mem.put(descs[3], 0x87654000 | kAf | 0b01);
    std::vector<WalkLevel> trace;
    const auto msg = fails(regs(kTcr4K48, 0x40000000), va, mem, &trace);
    CHECK(msg.find("level 3 descriptor at PA 0x40003c48 is invalid (0x87654401): 0b01 is a reserved encoding") !=
          std::string::npos);
    CHECK(trace.back().kind == "invalid");
  }
  SECTION("descriptor reads that fail are reported with the level") {
    PhysMem mem(0x40001000);  // RAM ends before the level 1 table
    mem.put(descs[0], next[0]);
    const auto msg = fails(regs(kTcr4K48, 0x40000000), va, mem);
    CHECK(msg ==
          "VA 0x123456789abc: level 1 descriptor at PA 0x40001688 cannot be read (external abort on walk): no RAM at "
          "0x40001688");
  }
}

TEST_CASE("page walk: TTBR BADDR, output address size and TxSZ limits", "[pagewalk]") {
  PhysMem mem;
  Tables tb(mem, 12, 48, 0, 0x40000000, 0x40100000);
  tb.map(0x0000123456789000, 0x81234000, 3);
  SECTION("ASID and CnP are not part of the base address") {
    const Translation t = ok(regs(kTcr4K48, 0x0042000040000001), 0x0000123456789abc, mem);
    CHECK(t.levels[0].table_pa == 0x40000000);
    CHECK(t.pa == 0x81234abc);
    CHECK(format_walk(t).find("TTBR0_EL1 = 0x42000040000001 (ASID 0x42)") != std::string::npos);
  }
  SECTION("a base beyond the output address size is an address size fault") {
    const std::uint64_t tcr40 = (kTcr4K48 & ~ips(7)) | ips(0b010);  // 40-bit PA
    const auto msg = fails(regs(tcr40, 0x0000010040000000), 0x1000, mem);
    CHECK(msg ==
          "VA 0x1000: TTBR0_EL1 base address 0x10040000000 is beyond the 40-bit output address size (address size "
          "fault, level 0)");
  }
  SECTION("an output address beyond IPS is an address size fault") {
    const std::uint64_t tcr40 = (kTcr4K48 & ~ips(7)) | ips(0b010);
    Tables t2(mem, 12, 48, 0, 0x50000000, 0x50100000);
    t2.map(0x2000, 0x10000000000, 3);  // 2^40
    CHECK(ok(regs(kTcr4K48, 0x50000000), 0x2000, mem).pa == 0x10000000000);
    const auto msg = fails(regs(tcr40, 0x50000000), 0x2000, mem);
    CHECK(msg.find("gives output address 0x10000000000, beyond the 40-bit output address size (address size fault)") !=
          std::string::npos);
  }
  SECTION("IPS 52 bits without a 52-bit format caps at 48") {
    const Translation t = ok(regs((kTcr4K48 & ~ips(7)) | kIps52, 0x40000000), 0x0000123456789abc, mem);
    CHECK(t.pa_bits == 48);
  }
  SECTION("TxSZ outside the architected range") {
    auto msg = fails(regs((kTcr4K48 & ~t0sz(63)) | t0sz(13), 0x40000000), 0x1000, mem);
    CHECK(msg == "VA 0x1000: TCR_EL1.T0SZ = 13 is outside 16..48 for the 4K granule (translation fault)");
    fails(regs((kTcr4K48 & ~t0sz(63)) | t0sz(49), 0x40000000), 0x1000, mem);
    // FEAT_TTST: 4K with T0SZ = 48 is a 16-bit VA walked from level 3.
    Tables small(mem, 12, 16, 3, 0x58000000, 0x58001000);
    small.map(0xf000, 0x12345000, 3);
    const Translation t = ok(regs((kTcr4K48 & ~t0sz(63)) | t0sz(48), 0x58000000), 0xf123, mem);
    CHECK(t.start_level == 3);
    CHECK(t.pa == 0x12345123);
  }
}

// Boundary cases of the walk's rules: each rule is checked just inside and
// just outside its limit.

namespace {

struct Granule {
  const char* name;
  std::uint64_t tg0, tg1;
  unsigned bits;
};
constexpr std::array<Granule, 3> kGranules = {
    {{"4K", kTg0_4K, kTg1_4K, 12}, {"16K", kTg0_16K, kTg1_16K, 14}, {"64K", kTg0_64K, kTg1_64K, 16}}};
const Granule& granule(unsigned bits) {
  for (const Granule& g : kGranules)
    if (g.bits == bits) return g;
  FAIL("no granule of " << bits << " bits");
  return kGranules[0];
}

// TCR_EL1 with both halves set to one granule and TnSZ.
std::uint64_t tcr_for(unsigned gbits, unsigned txsz, std::uint64_t extra = kIps48) {
  const Granule& g = granule(gbits);
  return t0sz(txsz) | t1sz(txsz) | g.tg0 | g.tg1 | extra;
}

// The first lookup of a walk over empty tables (root 0x40000000 in both
// TTBRs): it faults there, an invalid descriptor, so the walk got past every
// configuration check and the trace shows the start level and its index.
WalkLevel first_lookup(std::uint64_t tcr, std::uint64_t va) {
  PhysMem mem;
  std::vector<WalkLevel> trace;
  const auto msg = fails(regs(tcr, 0x40000000, 0x40000000), va, mem, &trace);
  INFO(msg);
  REQUIRE(trace.size() == 1);
  CHECK(msg.find(fmt::format("level {} descriptor at PA", trace[0].level)) != std::string::npos);
  return trace[0];
}

}  // namespace

TEST_CASE("page walk: TnSZ limits per granule, DS and range", "[pagewalk]") {
  // J1 AArch64.S1MinTxSZ(): 16, or 12 with FEAT_LVA (64K) or DS == 1 (4K,
  // 16K). AArch64.MaxTxSZ() with FEAT_TTST: 48 for 4K and 16K, 47 for 64K.
  struct Case {
    unsigned gbits;
    bool ds, upper;
    unsigned txsz;
    const char* refused;  // the range named by the fault, or nullptr when accepted
  };
  const Case cases[] = {
      {12, false, false, 15, "16..48 for the 4K granule"},
      {12, false, false, 16, nullptr},
      {12, false, false, 48, nullptr},
      {12, false, false, 49, "16..48 for the 4K granule"},
      {12, true, false, 11, "12..48 for the 4K granule with DS == 1"},
      {12, true, false, 12, nullptr},
      {12, true, false, 48, nullptr},
      {12, true, false, 49, "12..48 for the 4K granule with DS == 1"},
      {14, false, false, 15, "16..48 for the 16K granule"},
      {14, false, false, 16, nullptr},
      {14, false, false, 48, nullptr},
      {14, false, false, 49, "16..48 for the 16K granule"},
      {14, true, false, 11, "12..48 for the 16K granule with DS == 1"},
      {14, true, false, 12, nullptr},
      {16, false, false, 11, "12..47 for the 64K granule"},
      {16, false, false, 12, nullptr},
      {16, false, false, 47, nullptr},
      {16, false, false, 48, "12..47 for the 64K granule"},
      // DS does not apply to the 64K granule: same limits, not "with DS".
      {16, true, false, 11, "12..47 for the 64K granule"},
      {16, true, false, 47, nullptr},
      {16, true, false, 48, "12..47 for the 64K granule"},
      // T1SZ has the same limits.
      {12, false, true, 15, "16..48 for the 4K granule"},
      {12, false, true, 16, nullptr},
      {12, false, true, 48, nullptr},
      {12, false, true, 49, "16..48 for the 4K granule"},
      {16, false, true, 11, "12..47 for the 64K granule"},
      {16, false, true, 12, nullptr},
      {16, false, true, 47, nullptr},
      {16, false, true, 48, "12..47 for the 64K granule"},
  };
  for (const Case& c : cases) {
    const std::uint64_t tcr = tcr_for(c.gbits, c.txsz, kIps48 | (c.ds ? kDs : 0));
    const std::uint64_t va = c.upper ? ~std::uint64_t{0} : 0;  // the top of TTBR1's range, the bottom of TTBR0's
    INFO(granule(c.gbits).name << (c.ds ? " DS" : "") << " T" << c.upper << "SZ = " << c.txsz);
    PhysMem mem;
    const auto msg = fails(regs(tcr, 0x40000000, 0x40000000), va, mem);
    if (c.refused)
      CHECK(msg == fmt::format("VA {:#x}: TCR_EL1.T{}SZ = {} is outside {} (translation fault)", va, c.upper ? 1 : 0,
                               c.txsz, c.refused));
    else
      CHECK(msg.find("descriptor at PA 0x4000") != std::string::npos);  // walked the (empty) tables
    if (!c.refused) CHECK(msg.find("is invalid (0x0)") != std::string::npos);
  }
}

TEST_CASE("page walk: start level and initial index width at each granule's boundaries", "[pagewalk]") {
  // J1 AArch64.S1StartLevel(): 3 - ((ia - 1 - gbits) DIV (gbits - 3)); the
  // start level resolves the ia - shift bits left above the levels below it
  // (D8.2 "Translation table walk"). The VA at the top of TTBR0's range has
  // all of them set: index 2^width - 1.
  struct Case {
    unsigned gbits;
    bool ds;
    unsigned txsz;
    int start;
    unsigned width;
  };
  const Case cases[] = {
      // 4K: stride 9. Level -1 only with DS (ia 49..52).
      {12, true, 12, -1, 4},
      {12, true, 15, -1, 1},
      {12, true, 16, 0, 9},
      {12, false, 16, 0, 9},
      {12, false, 24, 0, 1},
      {12, false, 25, 1, 9},
      {12, false, 33, 1, 1},
      {12, false, 34, 2, 9},
      {12, false, 42, 2, 1},
      {12, false, 43, 3, 9},
      {12, false, 48, 3, 4},
      // 16K: stride 11.
      {14, true, 12, 0, 5},
      {14, false, 16, 0, 1},
      {14, false, 17, 1, 11},
      {14, false, 27, 1, 1},
      {14, false, 28, 2, 11},
      {14, false, 38, 2, 1},
      {14, false, 39, 3, 11},
      {14, false, 48, 3, 2},
      // 64K: stride 13; never level 0.
      {16, false, 12, 1, 10},
      {16, false, 21, 1, 1},
      {16, false, 22, 2, 13},
      {16, false, 34, 2, 1},
      {16, false, 35, 3, 13},
      {16, false, 47, 3, 1},
  };
  for (const Case& c : cases) {
    const std::uint64_t tcr = tcr_for(c.gbits, c.txsz, kIps48 | (c.ds ? kDs : 0));
    const std::uint64_t top = (std::uint64_t{1} << (64 - c.txsz)) - 1;
    INFO(granule(c.gbits).name << (c.ds ? " DS" : "") << " T0SZ = " << c.txsz);
    const WalkLevel lo = first_lookup(tcr, top);
    CHECK(lo.level == c.start);
    CHECK(lo.index == (std::uint64_t{1} << c.width) - 1);
    CHECK(lo.desc_pa == 0x40000000 + lo.index * 8);
    // The TTBR1 range mirrors it: its lowest VA has index 0.
    const WalkLevel hi = first_lookup(tcr, ~top);
    CHECK(hi.level == c.start);
    CHECK(hi.index == 0);
  }
}

TEST_CASE("page walk: block descriptors at each level", "[pagewalk]") {
  // J1 AArch64.BlockDescSupported() (D8.3 "Block descriptor"): 4K blocks at
  // levels 1 and 2, level 0 with DS == 1; 16K at level 2, level 1 with
  // DS == 1; 64K at level 2, level 1 with FEAT_LPA (a 52-bit IPS here). DS
  // gives the 64K granule nothing. Level 3 has pages; 0b01 there is reserved.
  struct Case {
    unsigned gbits;
    unsigned txsz;
    std::uint64_t extra;  // DS, IPS
    int level;
    bool allowed;
  };
  const Case cases[] = {
      {12, 12, kIps48 | kDs, -1, false}, {12, 16, kIps48, 0, false},       {12, 16, kIps48 | kDs, 0, true},
      {12, 16, kIps48, 1, true},         {12, 16, kIps48 | kDs, 1, true},  {12, 16, kIps48, 2, true},
      {14, 16, kIps48, 0, false},        {14, 12, kIps48 | kDs, 0, false}, {14, 16, kIps48, 1, false},
      {14, 16, kIps48 | kDs, 1, true},   {14, 16, kIps48, 2, true},        {16, 16, kIps48, 1, false},
      {16, 16, kIps48 | kDs, 1, false},  {16, 16, kIps52, 1, true},        {16, 16, kIps48, 2, true},
  };
  for (const Case& c : cases) {
    const unsigned ia = 64 - c.txsz;
    const int start = 3 - static_cast<int>((ia - 1 - c.gbits) / (c.gbits - 3));
    const unsigned shift = c.gbits + (c.gbits - 3) * static_cast<unsigned>(3 - c.level);
    const std::uint64_t entry = std::uint64_t{1} << shift;
    const std::uint64_t va = entry + 0x123;  // index 1 at the block's level
    PhysMem mem;
    Tables tb(mem, c.gbits, ia, start, 0x40000000, 0x41000000);
    tb.map(va, entry * 2, c.level);  // OA: the next entry-aligned address after the VA's
    INFO(granule(c.gbits).name << " level " << c.level << " TCR " << std::hex << c.extra);
    auto t = translate(regs(tcr_for(c.gbits, c.txsz, c.extra), 0x40000000), va, mem.reader());
    if (c.allowed) {
      INFO((t ? "" : t.error().message));
      REQUIRE(t.ok());
      CHECK(t->leaf_level == c.level);
      CHECK(t->entry_size == entry);
      CHECK(t->pa == entry * 2 + 0x123);
      CHECK(t->levels.back().kind == "block");
    } else {
      REQUIRE_FALSE(t.ok());
      CHECK(t.error().message.find(fmt::format("a block at level {}, but the {} granule", c.level,
                                               granule(c.gbits).name)) != std::string::npos);
    }
  }
  SECTION("0b01 at level 3 is reserved for every granule; 0b11 is a page") {
    for (const Granule& g : kGranules) {
      INFO(g.name);
      const std::uint64_t va = (std::uint64_t{1} << g.bits) + 0x10;  // level 3 index 1
      PhysMem mem;
      Tables tb(mem, g.bits, 48, g.bits == 16 ? 1 : 0, 0x40000000, 0x41000000);
      const std::uint64_t at = tb.entry_pa(va, 3);
      mem.put(at, 0x80000000 | kAf | kPage);
      CHECK(ok(regs(tcr_for(g.bits, 16), 0x40000000), va, mem).pa == 0x80000010);
      mem.put(at, 0x80000000 | kAf | kBlock);
      CHECK(fails(regs(tcr_for(g.bits, 16), 0x40000000), va, mem).find("0b01 is a reserved encoding at level 3") !=
            std::string::npos);
    }
  }
}

TEST_CASE("page walk: TCR_EL1.DS applies to the 4K and 16K granules only", "[pagewalk]") {
  // With the 64K granule, descriptor bits [9:8] are SH[1:0] and bits
  // [49:48] are not OA bits, DS or not (D8.3; J1 AArch64.S1TTWParams()).
  // Linux maps its 64K kernel pages Inner Shareable: SH = 0b11.
  const std::uint64_t sh_inner = std::uint64_t{0b11} << 8;
  const std::uint64_t tcr = tcr_for(16, 16, kIps48 | kDs);
  PhysMem mem;
  Tables tb(mem, 16, 48, 1, 0x40000000, 0x40010000);
  const std::uint64_t va = 0x0000001234567890;
  tb.map(va, 0x880000000, 3, kAf | sh_inner);
  const Translation t = ok(regs(tcr, 0x40000000), va, mem);
  CHECK(t.pa == 0x880007890);
  CHECK(t.pa_bits == 48);
  CHECK(ok(regs(tcr & ~kDs, 0x40000000), va, mem).pa == 0x880007890);
  // TTBR bits [5:2] are BADDR[51:48] only in a 52-bit format; here they
  // are below the 512-byte alignment of the level 1 table, ignored.
  CHECK(ok(regs(tcr, 0x40000000 | (0xf << 2)), va, mem).levels[0].table_pa == 0x40000000);
  // The 4K granule with DS takes the same bits [9:8] as OA[51:50].
  const std::uint64_t tcr4 = tcr_for(12, 16, kIps52 | kDs);
  PhysMem m4(std::uint64_t{1} << 52);
  Tables t4(m4, 12, 48, 0, 0x40000000, 0x40100000);
  t4.map(va, 0x80000000, 3, kAf | sh_inner);
  CHECK(ok(regs(tcr4, 0x40000000), va, m4).pa == 0x000c000080000890);
  CHECK(ok(regs(tcr4 & ~kDs, 0x40000000), va, m4).pa == 0x80000890);
}

TEST_CASE("page walk: the edges of the TTBR0 and TTBR1 ranges", "[pagewalk]") {
  PhysMem mem;
  Tables lo(mem, 12, 48, 0, 0x40000000, 0x40100000);
  Tables hi(mem, 12, 48, 0, 0x48000000, 0x48100000);
  lo.map(0x0000fffffffff000, 0x81000000, 3);
  hi.map(0xffff000000000000, 0x91000000, 3);
  hi.map(0xfffffffffffff000, 0x92000000, 3);
  const auto r = regs(kTcr4K48, 0x40000000, 0x48000000);
  SECTION("48-bit ranges: [0, 2^48) and [2^64 - 2^48, 2^64)") {
    CHECK(ok(r, 0x0000ffffffffffff, mem).pa == 0x81000fff);
    fails(r, 0x0001000000000000, mem);
    const Translation bottom = ok(r, 0xffff000000000000, mem);
    CHECK(bottom.upper);
    CHECK(bottom.pa == 0x91000000);
    CHECK(bottom.levels[0].index == 0);
    const auto msg = fails(r, 0xfffeffffffffffff, mem);
    CHECK(msg.find("VA[55] = 1 selects TTBR1_EL1, whose 48-bit range (T1SZ = 16) needs bits [63:48] all ones") !=
          std::string::npos);
    const Translation top = ok(r, 0xffffffffffffffff, mem);
    CHECK(top.pa == 0x92000fff);
    CHECK(top.levels[0].index == 511);
  }
  SECTION("a 39-bit TTBR1 range starts at 2^64 - 2^39") {
    const std::uint64_t tcr = t0sz(16) | kTg0_4K | t1sz(25) | kTg1_4K | kIps48;
    PhysMem m;
    Tables h39(m, 12, 39, 1, 0x48000000, 0x48100000);
    h39.map(0xffffff8000000000, 0x93000000, 3);
    CHECK(ok(regs(tcr, 0, 0x48000000), 0xffffff8000000000, m).pa == 0x93000000);
    CHECK(fails(regs(tcr, 0, 0x48000000), 0xffffff7fffffffff, m).find("(T1SZ = 25) needs bits [63:39] all ones") !=
          std::string::npos);
  }
  SECTION("TBI1: the tag is ignored, bits [55:48] still must be ones") {
    const auto rt = regs(kTcr4K48 | kTbi1, 0x40000000, 0x48000000);
    CHECK(ok(rt, 0x5aff000000000000, mem).pa == 0x91000000);
    CHECK(ok(rt, 0x00ffffffffffffff, mem).pa == 0x92000fff);
    CHECK(fails(rt, 0x5afeffffffffffff, mem).find("needs bits [55:48] all ones") != std::string::npos);
  }
}

TEST_CASE("page walk: EPD0/EPD1 disable walks without reading a descriptor", "[pagewalk]") {
  PhysMem mem;
  Tables lo(mem, 12, 48, 0, 0x40000000, 0x40100000);
  Tables hi(mem, 12, 48, 0, 0x48000000, 0x48100000);
  lo.map(0x1000, 0x81000000, 3);
  hi.map(0xffff800000001000, 0x91000000, 3);
  const std::uint64_t both = kTcr4K48 | kEpd0 | kEpd1;
  const int before = mem.reads;
  CHECK(fails(regs(both, 0x40000000, 0x48000000), 0x1000, mem).find("TCR_EL1.EPD0 == 1") != std::string::npos);
  CHECK(fails(regs(both, 0x40000000, 0x48000000), 0xffff800000001000, mem).find("TCR_EL1.EPD1 == 1") !=
        std::string::npos);
  CHECK(mem.reads == before);
  // Cleared, each half walks again.
  CHECK(ok(regs(both & ~kEpd0, 0x40000000, 0x48000000), 0x1000, mem).pa == 0x81000000);
  CHECK(ok(regs(both & ~kEpd1, 0x40000000, 0x48000000), 0xffff800000001000, mem).pa == 0x91000000);
  // With the MMU off there is no walk to disable.
  CHECK(ok(regs(both, 0x40000000, 0x48000000, 0), 0x1000, mem).pa == 0x1000);
}

TEST_CASE("page walk: permissions are reported, not enforced", "[pagewalk]") {
  PhysMem mem;
  const std::uint64_t va = 0x0000123456789abc;
  struct Case {
    unsigned ap;
    bool writable, user;
  };
  for (const Case c :
       {Case{0b00, true, false}, Case{0b01, true, true}, Case{0b10, false, false}, Case{0b11, false, true}}) {
    PhysMem m;
    Tables tb(m, 12, 48, 0, 0x40000000, 0x40100000);
    tb.map(va, 0x81234000, 3, kAf | ap(c.ap));
    const Translation t = ok(regs(kTcr4K48, 0x40000000), va, m);
    INFO("AP " << c.ap);
    CHECK(t.ap == c.ap);
    CHECK(t.writable == c.writable);
    CHECK(t.user == c.user);
  }
  SECTION("APTable and PXNTable restrict everything below, unless HPD") {
    Tables tb(mem, 12, 48, 0, 0x40000000, 0x40100000);
    tb.table_for(va, 1, kApTable0 | kApTable1 | kPxnTable);  // level 0 table descriptor carries them
    tb.map(va, 0x81234000, 3, kAf | ap(0b01));
    const Translation t = ok(regs(kTcr4K48, 0x40000000), va, mem);
    CHECK_FALSE(t.writable);
    CHECK_FALSE(t.user);
    CHECK(t.pxn);
    CHECK_FALSE(t.uxn);
    const Translation h = ok(regs(kTcr4K48 | kHpd0, 0x40000000), va, mem);
    CHECK(h.writable);
    CHECK(h.user);
    CHECK(h.pxn);  // EL0-writable: still not executable at EL1
  }
  SECTION("AF clear does not stop a debugger read") {
    Tables tb(mem, 12, 48, 0, 0x40000000, 0x40100000);
    tb.map(va, 0x81234000, 3, 0);
    const Translation t = ok(regs(kTcr4K48, 0x40000000), va, mem);
    CHECK_FALSE(t.access_flag);
    CHECK(format_walk(t).find("AF clear") != std::string::npos);
  }
  SECTION("SCTLR_EL1.WXN makes writable memory execute-never") {
    Tables tb(mem, 12, 48, 0, 0x40000000, 0x40100000);
    tb.map(va, 0x81234000, 3, kAf | ap(0b00));
    CHECK_FALSE(ok(regs(kTcr4K48, 0x40000000), va, mem).pxn);
    CHECK(ok(regs(kTcr4K48, 0x40000000, 0, kSctlrM | (std::uint64_t{1} << 19)), va, mem).pxn);
  }
}

TEST_CASE("page walk: big-endian walks (SCTLR_EL1.EE)", "[pagewalk]") {
  auto swap = [](std::uint64_t v) {
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | ((v >> (8 * i)) & 0xff);
    return r;
  };
  PhysMem mem;
  mem.put(0x40000120, swap(0x40001000 | kTable));
  mem.put(0x40001688, swap(0x40002000 | kTable));
  mem.put(0x40002598, swap(0x40003000 | kTable));
  mem.put(0x40003c48, swap(0x87654000 | kAf | kPage));
  const Translation t = ok(regs(kTcr4K48, 0x40000000, 0, kSctlrM | kSctlrEe), 0x0000123456789abc, mem);
  CHECK(t.pa == 0x87654abc);
  CHECK(t.levels[0].descriptor == (0x40001000 | kTable));
}

TEST_CASE("page walk: MMU off is the flat mapping", "[pagewalk]") {
  PhysMem mem;
  const auto r = regs(kTcr4K48 | kTbi0, 0x40000000, 0, /*sctlr=*/0);
  const Translation t = ok(r, 0x40001234, mem);
  CHECK(t.mmu_off);
  CHECK(t.pa == 0x40001234);
  CHECK(t.size == (std::uint64_t{1} << 52) - 0x40001234);
  CHECK(t.levels.empty());
  CHECK(mem.reads == 0);
  CHECK(format_walk(t) == "VA 0x40001234: MMU off (SCTLR_EL1.M == 0), flat mapping\n  => PA 0x40001234\n");
  // TBI0: the tag is dropped.
  CHECK(ok(r, 0x3400000040001234, mem).pa == 0x40001234);
  // No TBI for the upper half here: bits [63:52] must be zero.
  const auto msg = fails(r, 0xffff000040001234, mem);
  CHECK(msg.find("with the MMU off (SCTLR_EL1.M == 0) bits [63:52] must be zero") != std::string::npos);
  fails(regs(kTcr4K48, 0x40000000, 0, 0), 0x3400000040001234, mem);
  fails(r, 0x0010000000000000, mem);
}

TEST_CASE("page walk: backend_phys_reader walks tables in SimBackend RAM", "[pagewalk]") {
  SimBackend sim(SimConfig{});  // RAM 0x40000000 + 1 MiB
  auto put = [&](std::uint64_t pa, std::uint64_t v) {
    std::array<std::byte, 8> b{};
    for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
    auto n = sim.write_phys(pa, b);
    REQUIRE(n.ok());
    REQUIRE(*n == 8);
  };
  // 64K granule, 42-bit VA: start level 2 (one 13-bit index), then level 3.
  const std::uint64_t tcr = t0sz(22) | kTg0_64K | t1sz(22) | kTg1_64K | kIps48;
  const std::uint64_t va = 0x0000000020034567;  // L2 index VA[41:29] = 1, L3 index VA[28:16] = 3
  put(0x40080000 + 1 * 8, 0x40090000 | kTable);
  put(0x40090000 + 3 * 8, 0x40000000 | kAf | kPage);
  const auto reader = backend_phys_reader(sim);
  auto t = translate(regs(tcr, 0x40080000), va, reader);
  REQUIRE(t.ok());
  CHECK(t->pa == 0x40004567);
  // A table outside RAM.
  put(0x40080000 + 2 * 8, 0x90000000 | kTable);
  auto bad = translate(regs(tcr, 0x40080000), 0x0000000040000000, reader);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == EFAULT);
  CHECK(bad.error().message.find("level 3 descriptor at PA 0x90000000 cannot be read") != std::string::npos);
  // A descriptor straddling the end of RAM cannot happen (8-byte aligned),
  // but the last word of RAM reads fine.
  CHECK(reader(0x40000000 + (1 << 20) - 8).ok());
  CHECK_FALSE(reader(0x40000000 + (1 << 20)).ok());
}
