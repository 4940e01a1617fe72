// Data tables for the AArch64 target description and their renderers.
//
// Everything GDB-visible is in the FeatureSpecs of make_features(), one
// builder per feature: each feature lists its types (vectors, unions, flags,
// in definition order, because GDB resolves a type id when it parses it) and
// its register groups. Sizes that depend on the SVE vector length are
// written as `fixed + per_vq * vq`. To add a feature, write its builder and
// append it in make_features(); regnums continue from the previous feature
// automatically.
#include "xml-targets/tdesc.hpp"

#include <array>
#include <cerrno>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <variant>

#include <fmt/format.h>

namespace svedbg::xml {
namespace {

// A quantity that may scale with the vector length: fixed + per_vq * vq.
struct Scaled {
  unsigned fixed = 0;
  unsigned per_vq = 0;
  unsigned at(unsigned vq) const { return fixed + per_vq * vq; }
};

struct VectorType {
  std::string_view id;
  std::string_view element;
  Scaled count;
};

struct UnionField {
  std::string_view name;
  std::string_view type;
};

struct UnionType {
  std::string_view id;
  std::vector<UnionField> fields;
};

// A flag is a one-bit field (start == end); wider fields are bitfields.
struct FlagField {
  std::string_view name;
  unsigned start;
  unsigned end;
};

struct FlagsType {
  std::string_view id;
  unsigned size;  // bytes
  std::vector<FlagField> fields;
};

using TypeSpec = std::variant<VectorType, UnionType, FlagsType>;

// `count` registers named name0..name{count-1}, or one register named
// `name` when count == 0.
enum class When { Always, FpuOnly, SveOnly };

struct RegGroup {
  std::string_view name;
  unsigned count;
  Scaled bits;
  std::string_view type;
  RegClass cls;
  When when = When::Always;     // a register of a feature may depend on SVE
  std::string_view group = {};  // GDB register group ("system"), if any
  unsigned index = 0;           // RegSpec::index of a single register
  // lldb (14) ignores tdesc vector/union types: without encoding="vector"
  // it treats a register as one unsigned integer and cannot show more than
  // 16 bytes (docs/clients.md). GDB ignores these attributes.
  bool lldb_vector = false;
};

struct FeatureSpec {
  std::string_view name;
  When when;
  std::vector<TypeSpec> types;
  std::vector<RegGroup> regs;
};

// The FPSR/FPCR flag layouts are shared by the fpu and sve features (which
// never coexist, so each defines its own copy, as GDB does).
FlagsType fpsr_flags() {
  return {"fpsr_flags",
          4,
          {{"IOC", 0, 0},
           {"DZC", 1, 1},
           {"OFC", 2, 2},
           {"UFC", 3, 3},
           {"IXC", 4, 4},
           {"IDC", 7, 7},
           {"QC", 27, 27},
           {"V", 28, 28},
           {"C", 29, 29},
           {"Z", 30, 30},
           {"N", 31, 31}}};
}

FlagsType fpcr_flags() {
  return {"fpcr_flags",
          4,
          {{"FIZ", 0, 0},
           {"AH", 1, 1},
           {"NEP", 2, 2},
           {"IOE", 8, 8},
           {"DZE", 9, 9},
           {"OFE", 10, 10},
           {"UFE", 11, 11},
           {"IXE", 12, 12},
           {"EBF", 13, 13},
           {"IDE", 15, 15},
           {"Len", 16, 18},
           {"FZ16", 19, 19},
           {"Stride", 20, 21},
           {"RMode", 22, 23},
           {"FZ", 24, 24},
           {"DN", 25, 25},
           {"AHP", 26, 26}}};
}

// PSTATE as GDB shows it in cpsr (gdb/features/aarch64-core.c; the bit
// positions are SPSR_EL1's, DDI 0487 D19 SPSR_EL1).
FlagsType cpsr_flags() {
  return {"cpsr_flags",
          4,
          {{"SP", 0, 0},
           {"EL", 2, 3},
           {"nRW", 4, 4},
           {"F", 6, 6},
           {"I", 7, 7},
           {"A", 8, 8},
           {"D", 9, 9},
           {"BTYPE", 10, 11},
           {"SSBS", 12, 12},
           {"IL", 20, 20},
           {"SS", 21, 21},
           {"PAN", 22, 22},
           {"UAO", 23, 23},
           {"DIT", 24, 24},
           {"TCO", 25, 25},
           {"V", 28, 28},
           {"C", 29, 29},
           {"Z", 30, 30},
           {"N", 31, 31}}};
}

// org.gnu.gdb.aarch64.core: x0..x30, sp, pc, cpsr (gdb/features/aarch64-core.c).
FeatureSpec core_feature() {
  return {"org.gnu.gdb.aarch64.core",
          When::Always,
          {cpsr_flags()},
          {{"x", 31, {64, 0}, "int", RegClass::X},
           {"sp", 0, {64, 0}, "data_ptr", RegClass::Sp},
           {"pc", 0, {64, 0}, "code_ptr", RegClass::Pc},
           {"cpsr", 0, {32, 0}, "cpsr_flags", RegClass::Cpsr}}};
}

// org.gnu.gdb.aarch64.fpu: v0..v31, fpsr, fpcr, without SVE
// (gdb/features/aarch64-fpu.c).
FeatureSpec fpu_feature() {
  return {"org.gnu.gdb.aarch64.fpu",
          When::FpuOnly,
          {VectorType{"v2d", "ieee_double", {2, 0}},
           VectorType{"v2u", "uint64", {2, 0}},
           VectorType{"v2i", "int64", {2, 0}},
           VectorType{"v4f", "ieee_single", {4, 0}},
           VectorType{"v4u", "uint32", {4, 0}},
           VectorType{"v4i", "int32", {4, 0}},
           VectorType{"v8f", "ieee_half", {8, 0}},
           VectorType{"v8u", "uint16", {8, 0}},
           VectorType{"v8i", "int16", {8, 0}},
           VectorType{"v8bf16", "bfloat16", {8, 0}},
           VectorType{"v16u", "uint8", {16, 0}},
           VectorType{"v16i", "int8", {16, 0}},
           VectorType{"v1u", "uint128", {1, 0}},
           VectorType{"v1i", "int128", {1, 0}},
           UnionType{"vnd", {{"f", "v2d"}, {"u", "v2u"}, {"s", "v2i"}}},
           UnionType{"vns", {{"f", "v4f"}, {"u", "v4u"}, {"s", "v4i"}}},
           UnionType{"vnh", {{"bf", "v8bf16"}, {"f", "v8f"}, {"u", "v8u"}, {"s", "v8i"}}},
           UnionType{"vnb", {{"u", "v16u"}, {"s", "v16i"}}},
           UnionType{"vnq", {{"u", "v1u"}, {"s", "v1i"}}},
           UnionType{"aarch64v", {{"d", "vnd"}, {"s", "vns"}, {"h", "vnh"}, {"b", "vnb"}, {"q", "vnq"}}},
           fpsr_flags(),
           fpcr_flags()},
          {{"v", 32, {128, 0}, "aarch64v", RegClass::V},
           {"fpsr", 0, {32, 0}, "fpsr_flags", RegClass::Fpsr},
           {"fpcr", 0, {32, 0}, "fpcr_flags", RegClass::Fpcr}}};
}

// org.gnu.gdb.aarch64.sve: z0..z31, fpsr, fpcr, p0..p15, ffr, vg, instead
// of the fpu feature (gdb/features/aarch64-sve.c); Z is 128 * vq bits, P
// and FFR 16 * vq.
FeatureSpec sve_feature() {
  return {"org.gnu.gdb.aarch64.sve",
          When::SveOnly,
          {VectorType{"svevqu", "uint128", {0, 1}},
           VectorType{"svevqs", "int128", {0, 1}},
           VectorType{"svevdf", "ieee_double", {0, 2}},
           VectorType{"svevdu", "uint64", {0, 2}},
           VectorType{"svevds", "int64", {0, 2}},
           VectorType{"svevsf", "ieee_single", {0, 4}},
           VectorType{"svevsu", "uint32", {0, 4}},
           VectorType{"svevss", "int32", {0, 4}},
           VectorType{"svevhf", "ieee_half", {0, 8}},
           VectorType{"svevhu", "uint16", {0, 8}},
           VectorType{"svevhs", "int16", {0, 8}},
           VectorType{"svevbu", "uint8", {0, 16}},
           VectorType{"svevbs", "int8", {0, 16}},
           UnionType{"svevnq", {{"u", "svevqu"}, {"s", "svevqs"}}},
           UnionType{"svevnd", {{"f", "svevdf"}, {"u", "svevdu"}, {"s", "svevds"}}},
           UnionType{"svevns", {{"f", "svevsf"}, {"u", "svevsu"}, {"s", "svevss"}}},
           UnionType{"svevnh", {{"f", "svevhf"}, {"u", "svevhu"}, {"s", "svevhs"}}},
           UnionType{"svevnb", {{"u", "svevbu"}, {"s", "svevbs"}}},
           UnionType{"svev", {{"q", "svevnq"}, {"d", "svevnd"}, {"s", "svevns"}, {"h", "svevnh"}, {"b", "svevnb"}}},
           VectorType{"svep", "uint8", {0, 2}},
           fpsr_flags(),
           fpcr_flags()},
          {{"z", 32, {0, 128}, "svev", RegClass::Z, When::Always, {}, 0, true},
           {"fpsr", 0, {32, 0}, "fpsr_flags", RegClass::Fpsr},
           {"fpcr", 0, {32, 0}, "fpcr_flags", RegClass::Fpcr},
           {"p", 16, {0, 16}, "svep", RegClass::P, When::Always, {}, 0, true},
           {"ffr", 0, {0, 16}, "svep", RegClass::Ffr, When::Always, {}, 0, true},
           {"vg", 0, {64, 0}, "int", RegClass::Vg}}};
}

// Not a GDB feature: the EL1 system registers a debugger of a whole guest
// needs (translation regime, exception state, identity). GDB shows them in
// `info registers system` / `info all-registers`; they are 64-bit as KVM
// transfers them (KVM_REG_SIZE_U64). ELR_EL1, SPSR_EL1 and SP_EL1 come from
// KVM's core block, the others from ARM64_SYS_REG IDs (introspect/regmap).
FeatureSpec sysregs_feature() {
  auto sys = [](std::string_view name, SysReg r, When when = When::Always) {
    return RegGroup{name, 0, {64, 0}, "uint64", RegClass::Sys, when, "system", static_cast<unsigned>(r)};
  };
  return {"org.svedbg.aarch64.sysregs",
          When::Always,
          {},
          {sys("zcr_el1", SysReg::ZcrEl1, When::SveOnly), sys("sctlr_el1", SysReg::SctlrEl1),
           sys("tcr_el1", SysReg::TcrEl1), sys("ttbr0_el1", SysReg::Ttbr0El1), sys("ttbr1_el1", SysReg::Ttbr1El1),
           sys("mair_el1", SysReg::MairEl1), sys("vbar_el1", SysReg::VbarEl1), sys("esr_el1", SysReg::EsrEl1),
           sys("far_el1", SysReg::FarEl1), sys("elr_el1", SysReg::ElrEl1), sys("spsr_el1", SysReg::SpsrEl1),
           sys("sp_el1", SysReg::SpEl1), sys("midr_el1", SysReg::MidrEl1), sys("mpidr_el1", SysReg::MpidrEl1)}};
}

// The features in GDB register number order; fpu and sve exclude each other.
std::vector<FeatureSpec> make_features() { return {core_feature(), fpu_feature(), sve_feature(), sysregs_feature()}; }

const std::vector<FeatureSpec>& features() {
  static const std::vector<FeatureSpec> table = make_features();
  return table;
}

bool included(When when, bool sve) {
  switch (when) {
    case When::Always: return true;
    case When::FpuOnly: return !sve;
    case When::SveOnly: return sve;
  }
  return false;
}

void append_regs(const RegGroup& g, unsigned vq, unsigned& regnum, std::vector<RegSpec>& out) {
  const unsigned n = g.count == 0 ? 1 : g.count;
  for (unsigned i = 0; i < n; ++i) {
    std::string name = g.count == 0 ? std::string(g.name) : fmt::format("{}{}", g.name, i);
    out.push_back(
        RegSpec{regnum++, std::move(name), g.bits.at(vq), std::string(g.type), g.cls, g.count == 0 ? g.index : i});
  }
}

const RegGroup& group_of(const std::vector<RegGroup>& groups, const RegSpec& r) {
  for (const RegGroup& g : groups)
    if (g.cls == r.cls) return g;
  throw std::logic_error("register without a group: " + r.name);
}

using Out = std::back_insert_iterator<std::string>;

void render_type(Out out, const TypeSpec& type, unsigned vq) {
  if (const auto* v = std::get_if<VectorType>(&type)) {
    fmt::format_to(out, "    <vector id=\"{}\" type=\"{}\" count=\"{}\"/>\n", v->id, v->element, v->count.at(vq));
  } else if (const auto* u = std::get_if<UnionType>(&type)) {
    fmt::format_to(out, "    <union id=\"{}\">\n", u->id);
    for (const auto& field : u->fields) {
      fmt::format_to(out, "      <field name=\"{}\" type=\"{}\"/>\n", field.name, field.type);
    }
    fmt::format_to(out, "    </union>\n");
  } else if (const auto* f = std::get_if<FlagsType>(&type)) {
    fmt::format_to(out, "    <flags id=\"{}\" size=\"{}\">\n", f->id, f->size);
    for (const auto& field : f->fields) {
      fmt::format_to(out, "      <field name=\"{}\" start=\"{}\" end=\"{}\"/>\n", field.name, field.start, field.end);
    }
    fmt::format_to(out, "    </flags>\n");
  }
}

// One cached description. Built exactly once under its once_flag.
struct Description {
  std::vector<RegSpec> regs;
  std::string xml;
  std::size_t g_size = 0;
};

Description build(bool sve, unsigned vq) {
  Description d;
  std::string& xml = d.xml;
  auto out = std::back_inserter(xml);
  fmt::format_to(out,
                 "<?xml version=\"1.0\"?>\n"
                 "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
                 "<target version=\"1.0\">\n"
                 "  <architecture>aarch64</architecture>\n");
  unsigned regnum = 0;
  for (const FeatureSpec& feature : features()) {
    if (!included(feature.when, sve)) continue;
    fmt::format_to(out, "  <feature name=\"{}\">\n", feature.name);
    for (const TypeSpec& type : feature.types) render_type(out, type, vq);
    const std::size_t first = d.regs.size();
    for (const RegGroup& group : feature.regs)
      if (included(group.when, sve)) append_regs(group, vq, regnum, d.regs);
    for (std::size_t i = first; i < d.regs.size(); ++i) {
      const RegSpec& r = d.regs[i];
      fmt::format_to(out, "    <reg name=\"{}\" bitsize=\"{}\" type=\"{}\"", r.name, r.bitsize, r.type);
      if (i == first) fmt::format_to(out, " regnum=\"{}\"", r.regnum);
      const RegGroup& g = group_of(feature.regs, r);
      if (!g.group.empty()) fmt::format_to(out, " group=\"{}\"", g.group);
      if (g.lldb_vector) fmt::format_to(out, " encoding=\"vector\" format=\"vector-uint8\"");
      fmt::format_to(out, "/>\n");
    }
    fmt::format_to(out, "  </feature>\n");
  }
  fmt::format_to(out, "</target>\n");
  for (const RegSpec& r : d.regs) d.g_size += r.bitsize / 8;
  return d;
}

struct Slot {
  std::once_flag once;
  std::unique_ptr<const Description> desc;
};

// Slot 0 is the fpu description; slot vq (1..kMaxVq) the sve one.
const Description& description(bool sve, unsigned vq) {
  if (sve) {
    if (Status st = check_vq(vq); !st) throw std::invalid_argument(st.error().message);
  }
  // Deliberately leaked: references handed out must outlive static destruction.
  static auto* const slots = new std::array<Slot, kMaxVq + 1>();
  Slot& slot = (*slots)[sve ? vq : 0];
  std::call_once(slot.once, [&] { slot.desc = std::make_unique<const Description>(build(sve, vq)); });
  return *slot.desc;
}

}  // namespace

Status check_vq(unsigned vq) {
  if (vq < 1 || vq > kMaxVq) {
    return make_error(EINVAL, "invalid SVE vector length vq={} (quadwords; must be 1..{}, i.e. 128..{} bits)", vq,
                      kMaxVq, 128 * kMaxVq);
  }
  return {};
}

const std::vector<RegSpec>& register_table(bool sve, unsigned vq) { return description(sve, vq).regs; }

const std::string& target_xml(bool sve, unsigned vq) { return description(sve, vq).xml; }

std::size_t g_packet_size(bool sve, unsigned vq) { return description(sve, vq).g_size; }

}  // namespace svedbg::xml
