// Target descriptions: exact golden comparison plus table invariants.
#include <catch2/catch.hpp>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "xml-targets/tdesc.hpp"

using svedbg::xml::g_packet_size;
using svedbg::xml::kMaxVq;
using svedbg::xml::kSysRegCount;
using svedbg::xml::RegClass;
using svedbg::xml::register_table;
using svedbg::xml::RegSpec;
using svedbg::xml::SysReg;
using svedbg::xml::target_xml;

namespace {

std::string read_golden(const std::string& name) {
  const std::string path = std::string(SVEDBG_GOLDEN_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot open golden file " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("target_xml matches the golden files", "[tdesc]") {
  for (unsigned vq : {1u, 2u, 4u, 16u}) {
    INFO("vq=" << vq);
    CHECK(target_xml(true, vq) == read_golden(fmt::format("tdesc-sve-vq{}.xml", vq)));
  }
  CHECK(target_xml(false, 0) == read_golden("tdesc-fpu.xml"));
}

TEST_CASE("SVE table: layout, sizes and numbering", "[tdesc]") {
  for (unsigned vq = 1; vq <= kMaxVq; ++vq) {
    INFO("vq=" << vq);
    const auto& t = register_table(true, vq);
    REQUIRE(t.size() == 86 + kSysRegCount);
    for (unsigned i = 0; i < t.size(); ++i) CHECK(t[i].regnum == i);

    for (unsigned i = 0; i <= 30; ++i) {
      CHECK(t[i].name == fmt::format("x{}", i));
      CHECK(t[i].cls == RegClass::X);
      CHECK(t[i].index == i);
      CHECK(t[i].bitsize == 64);
    }
    CHECK((t[31].name == "sp" && t[31].cls == RegClass::Sp && t[31].type == "data_ptr"));
    CHECK((t[32].name == "pc" && t[32].cls == RegClass::Pc && t[32].type == "code_ptr"));
    CHECK((t[33].name == "cpsr" && t[33].cls == RegClass::Cpsr && t[33].bitsize == 32));
    for (unsigned i = 0; i < 32; ++i) {
      const RegSpec& z = t[34 + i];
      CHECK(z.name == fmt::format("z{}", i));
      CHECK(z.cls == RegClass::Z);
      CHECK(z.index == i);
      CHECK(z.bitsize == 128 * vq);
      CHECK(z.type == "svev");
    }
    CHECK((t[66].name == "fpsr" && t[66].cls == RegClass::Fpsr && t[66].bitsize == 32));
    CHECK((t[67].name == "fpcr" && t[67].cls == RegClass::Fpcr && t[67].bitsize == 32));
    for (unsigned i = 0; i < 16; ++i) {
      const RegSpec& p = t[68 + i];
      CHECK(p.name == fmt::format("p{}", i));
      CHECK(p.cls == RegClass::P);
      CHECK(p.index == i);
      CHECK(p.bitsize == 16 * vq);
      CHECK(p.type == "svep");
    }
    CHECK((t[84].name == "ffr" && t[84].cls == RegClass::Ffr && t[84].bitsize == 16 * vq));
    CHECK((t[85].name == "vg" && t[85].cls == RegClass::Vg && t[85].regnum == 85));
    CHECK(t[85].bitsize == 64);
    // The sysregs feature follows vg, zcr_el1 first (SVE only).
    CHECK((t[86].name == "zcr_el1" && t[86].cls == RegClass::Sys && t[86].index == unsigned(SysReg::ZcrEl1)));
    CHECK((t.back().name == "mpidr_el1" && t.back().index == unsigned(SysReg::MpidrEl1)));
    for (unsigned i = 86; i < t.size(); ++i) CHECK((t[i].cls == RegClass::Sys && t[i].bitsize == 64));
    for (const RegSpec& r : t) {
      CHECK(r.bitsize % 8 == 0);
      if (r.cls != RegClass::X && r.cls != RegClass::Z && r.cls != RegClass::P && r.cls != RegClass::Sys)
        CHECK(r.index == 0);
    }
    // No fpu registers in an SVE description.
    for (const RegSpec& r : t) CHECK(r.cls != RegClass::V);
  }
}

TEST_CASE("FPU table: layout, sizes and numbering", "[tdesc]") {
  const auto& t = register_table(false, 0);
  REQUIRE(t.size() == 68 + kSysRegCount - 1);  // no zcr_el1 without SVE
  CHECK((t[68].name == "sctlr_el1" && t[68].cls == RegClass::Sys && t[68].index == unsigned(SysReg::SctlrEl1)));
  for (unsigned i = 0; i < t.size(); ++i) CHECK(t[i].regnum == i);
  for (unsigned i = 0; i < 32; ++i) {
    const RegSpec& v = t[34 + i];
    CHECK(v.name == fmt::format("v{}", i));
    CHECK(v.cls == RegClass::V);
    CHECK(v.index == i);
    CHECK(v.bitsize == 128);
    CHECK(v.type == "aarch64v");
  }
  CHECK((t[66].name == "fpsr" && t[66].cls == RegClass::Fpsr));
  CHECK((t[67].name == "fpcr" && t[67].cls == RegClass::Fpcr));
  for (const RegSpec& r : t) {
    CHECK(r.cls != RegClass::Z);
    CHECK(r.cls != RegClass::P);
    CHECK(r.cls != RegClass::Ffr);
    CHECK(r.cls != RegClass::Vg);
  }
}

TEST_CASE("XML structure per feature", "[tdesc]") {
  for (unsigned vq = 1; vq <= kMaxVq; ++vq) {
    const std::string& x = target_xml(true, vq);
    INFO("vq=" << vq);
    CHECK(x.rfind("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n", 0) == 0);
    CHECK(count(x, "<architecture>aarch64</architecture>") == 1);
    CHECK(count(x, "<feature name=\"org.gnu.gdb.aarch64.core\">") == 1);
    CHECK(count(x, "<feature name=\"org.gnu.gdb.aarch64.sve\">") == 1);
    CHECK(count(x, "org.gnu.gdb.aarch64.fpu") == 0);
    CHECK(count(x, "xi:include") == 0);
    // regnum written exactly on the first register of each feature.
    CHECK(count(x, " regnum=") == 3);
    CHECK(count(x, "<reg name=\"zcr_el1\" bitsize=\"64\" type=\"uint64\" regnum=\"86\" group=\"system\"/>") == 1);
    CHECK(count(x, "<reg name=\"x0\" bitsize=\"64\" type=\"int\" regnum=\"0\"/>") == 1);
    CHECK(count(x, fmt::format("<reg name=\"z0\" bitsize=\"{}\" type=\"svev\" regnum=\"34\" encoding=\"vector\" "
                               "format=\"vector-uint8\"/>",
                               128 * vq)) == 1);
    CHECK(count(x, fmt::format("<vector id=\"svevqu\" type=\"uint128\" count=\"{}\"/>", vq)) == 1);
    CHECK(count(x, fmt::format("<vector id=\"svevbu\" type=\"uint8\" count=\"{}\"/>", 16 * vq)) == 1);
    CHECK(count(x, fmt::format("<vector id=\"svep\" type=\"uint8\" count=\"{}\"/>", 2 * vq)) == 1);
    CHECK(count(x, "<reg ") == 86 + kSysRegCount);
    CHECK(x.substr(x.size() - 10) == "</target>\n");
  }
  const std::string& f = target_xml(false, 0);
  CHECK(count(f, "<feature name=\"org.gnu.gdb.aarch64.fpu\">") == 1);
  CHECK(count(f, "org.gnu.gdb.aarch64.sve") == 0);
  CHECK(count(f, "<reg name=\"v0\" bitsize=\"128\" type=\"aarch64v\" regnum=\"34\"/>") == 1);
  CHECK(count(f, " regnum=") == 3);
  CHECK(count(f, "<reg ") == 68 + kSysRegCount - 1);
  CHECK(count(f, "zcr_el1") == 0);
}

TEST_CASE("cache returns the same objects; vq ignored without SVE", "[tdesc]") {
  for (unsigned vq = 1; vq <= kMaxVq; ++vq) {
    CHECK(&register_table(true, vq) == &register_table(true, vq));
    CHECK(&target_xml(true, vq) == &target_xml(true, vq));
  }
  CHECK(&register_table(false, 0) == &register_table(false, 7));
  CHECK(&target_xml(false, 1) == &target_xml(false, 12345));
  CHECK(&register_table(true, 1) != &register_table(true, 2));
  CHECK(&register_table(true, 1) != &register_table(false, 1));

  // Concurrent first use yields one object per key.
  std::vector<const std::string*> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] { seen[i] = &target_xml(true, 1 + static_cast<unsigned>(i % 2) * 15); });
  }
  for (auto& th : threads) th.join();
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == &target_xml(true, i % 2 ? 16 : 1));
}

TEST_CASE("g_packet_size sums the register bytes", "[tdesc]") {
  for (unsigned vq = 1; vq <= kMaxVq; ++vq) {
    std::size_t sum = 0;
    for (const RegSpec& r : register_table(true, vq)) sum += r.bitsize / 8;
    CHECK(g_packet_size(true, vq) == sum);
    // x0..x30, sp, pc (8 each), cpsr, fpsr, fpcr (4 each), 32 z, 16 p + ffr, vg,
    // then the 64-bit system registers.
    CHECK(g_packet_size(true, vq) == 33 * 8 + 3 * 4 + 32 * 16 * vq + 17 * 2 * vq + 8 + 8 * kSysRegCount);
  }
  CHECK(g_packet_size(true, 1) == 830 + 112);
  CHECK(g_packet_size(true, 16) == 9020 + 112);
  CHECK(g_packet_size(false, 0) == 33 * 8 + 32 * 16 + 3 * 4 + 8 * (kSysRegCount - 1));
  CHECK(g_packet_size(false, 0) == 788 + 104);
}

TEST_CASE("invalid vector lengths are rejected", "[tdesc]") {
  CHECK(svedbg::xml::check_vq(1).ok());
  CHECK(svedbg::xml::check_vq(kMaxVq).ok());
  for (unsigned vq : {0u, kMaxVq + 1, 1000u}) {
    INFO("vq=" << vq);
    auto st = svedbg::xml::check_vq(vq);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == EINVAL);
    CHECK(st.error().message.find(std::to_string(vq)) != std::string::npos);
    CHECK_THROWS_AS(register_table(true, vq), std::invalid_argument);
    CHECK_THROWS_AS(target_xml(true, vq), std::invalid_argument);
    CHECK_THROWS_AS(g_packet_size(true, vq), std::invalid_argument);
  }
}
