#include "introspect/page_walk.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <span>

#include <fmt/format.h>

#include "common/le_bytes.hpp"

namespace svedbg::introspect {

namespace {

// The largest physical address size without FEAT_D128 (DDI 0487 D8.2
// "Translation process": output address size; J1 AArch64.PAMax()). Used
// only where the walk needs PAMax, which no register given to us holds.
constexpr unsigned kPaMax = 52;

constexpr std::uint64_t mask(unsigned hi, unsigned lo) {  // bits [hi:lo] set
  return ((hi >= 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1)) & ~((std::uint64_t{1} << lo) - 1);
}
constexpr std::uint64_t field(std::uint64_t v, unsigned hi, unsigned lo) { return (v & mask(hi, lo)) >> lo; }
constexpr bool bit(std::uint64_t v, unsigned n) { return (v >> n) & 1; }

// SCTLR_EL1 fields (DDI 0487 D19 SCTLR_EL1).
constexpr unsigned kSctlrM = 0;     // stage 1 translation enable
constexpr unsigned kSctlrWxn = 19;  // write permission implies XN
constexpr unsigned kSctlrEe = 25;   // endianness of EL1 data accesses and of stage 1 walks

// TCR_EL1 fields (DDI 0487 D19 TCR_EL1). Per half: [0] is TTBR0, [1] TTBR1.
constexpr unsigned kTxszLo[2] = {0, 16};  // TnSZ, 6 bits
constexpr unsigned kEpd[2] = {7, 23};
constexpr unsigned kTgLo[2] = {14, 30};  // TGn, 2 bits
constexpr unsigned kTbi[2] = {37, 38};
constexpr unsigned kHpd[2] = {41, 42};
constexpr unsigned kIpsLo = 32;  // IPS, 3 bits
constexpr unsigned kDs = 59;

// Descriptor fields (DDI 0487 D8.3 "Translation table descriptor formats").
constexpr unsigned kDescAttrIndxLo = 2;  // AttrIndx[2:0], bits [4:2]
constexpr unsigned kDescAp1 = 6;         // AP[1]: EL0 access
constexpr unsigned kDescAp2 = 7;         // AP[2]: read-only
constexpr unsigned kDescAf = 10;
constexpr unsigned kDescNg = 11;
constexpr unsigned kDescPxn = 53;
constexpr unsigned kDescUxn = 54;
constexpr unsigned kTablePxn = 59;  // PXNTable
constexpr unsigned kTableUxn = 60;  // UXNTable
constexpr unsigned kTableAp0 = 61;  // APTable[0]: no EL0 access below
constexpr unsigned kTableAp1 = 62;  // APTable[1]: no write access below

std::uint64_t byteswap64(std::uint64_t v) {
  std::uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | ((v >> (8 * i)) & 0xff);
  return r;
}

std::string size_name(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"", "K", "M", "G", "T"};
  std::size_t u = 0;
  while (u + 1 < kUnits.size() && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{}{}", bytes, kUnits[u]);
}

const char* ttbr_name(bool upper) { return upper ? "TTBR1_EL1" : "TTBR0_EL1"; }

// Granule size (log2) from TCR_EL1.TG0/TG1. The two fields encode the sizes
// differently (DDI 0487 D19 TCR_EL1; D8.2 "Translation granule"):
//   TG0: 0b00 4K, 0b01 64K, 0b10 16K, 0b11 reserved
//   TG1: 0b01 16K, 0b10 4K, 0b11 64K, 0b00 reserved
// A reserved value makes the hardware use an IMPLEMENTATION DEFINED granule,
// which cannot be known here: error.
Result<unsigned> granule_bits(std::uint64_t tcr, bool upper, std::uint64_t va) {
  const unsigned tg = static_cast<unsigned>(field(tcr, kTgLo[upper] + 1, kTgLo[upper]));
  static constexpr unsigned kTg0[4] = {12, 16, 14, 0};
  static constexpr unsigned kTg1[4] = {0, 14, 12, 16};
  const unsigned bits = upper ? kTg1[tg] : kTg0[tg];
  if (bits == 0)
    return make_error(EFAULT,
                      "VA {:#x}: TCR_EL1.TG{} = {:#04b} is a reserved granule encoding (the hardware picks an "
                      "IMPLEMENTATION DEFINED granule)",
                      va, upper ? 1 : 0, tg);
  return bits;
}

// AArch64.PhysicalAddressSize(): TCR_EL1.IPS, capped at 48 bits unless the
// 52-bit descriptor formats are in use (64K granule, FEAT_LPA; or DS == 1,
// FEAT_LPA2) and at PAMax. 0b111 is reserved before FEAT_D128 and 56 bits
// with it; either way the cap applies (D8.2 "Output address size").
unsigned physical_address_size(unsigned ips, bool wide_formats) {
  static constexpr unsigned kIps[8] = {32, 36, 40, 42, 44, 48, 52, 56};
  return std::min({kIps[ips & 7], wide_formats ? 52u : 48u, kPaMax});
}

// AArch64.BlockDescSupported(): which levels may hold a block descriptor
// (D8.3 "Block descriptor"; the level 1 block of the 64K granule needs
// FEAT_LPA, level 0 (4K) and level 1 (16K) blocks need DS == 1).
bool block_allowed(unsigned gbits, int level, bool ds, bool lpa64) {
  switch (gbits) {
    case 12: return level == 1 || level == 2 || (level == 0 && ds);
    case 14: return level == 2 || (level == 1 && ds);
    default: return level == 2 || (level == 1 && lpa64);
  }
}

const char* block_rule(unsigned gbits) {
  switch (gbits) {
    case 12: return "the 4K granule has blocks at levels 1 and 2, and at level 0 only with TCR_EL1.DS == 1";
    case 14: return "the 16K granule has blocks at level 2, and at level 1 only with TCR_EL1.DS == 1";
    default: return "the 64K granule has blocks at level 2, and at level 1 only with FEAT_LPA (TCR_EL1.IPS = 52 bits)";
  }
}

// The walk's parameters, AArch64.S1TTWParams() for the EL1&0 regime plus
// what AArch64.S1InitialTTWState() derives from them, and the hierarchical
// permissions gathered from table descriptors on the way down (J1
// AArch64.S1Walk(), AArch64.S1NextWalkStateTable()).
struct Walk {
  std::uint64_t va = 0;
  bool upper = false;   // VA[55]: TTBR1_EL1 and the TCR_EL1 fields ending in 1
  unsigned top = 63;    // the top address bit: 55 with TBIn, else 63 (AArch64.AddrTop())
  unsigned gbits = 12;  // granule size, log2
  unsigned stride = 9;  // index bits per level: gbits - 3 (8-byte descriptors)
  bool ds = false;      // TCR_EL1.DS in effect (4K/16K only)
  bool lpa64 = false;   // 64K granule with a 52-bit IPS: FEAT_LPA formats
  unsigned pa_bits = 48;
  unsigned txsz = 16;  // TnSZ
  unsigned ia = 48;    // input address size: 64 - TnSZ
  int start = 0;       // initial lookup level
  bool hpd = false;    // TCR_EL1.HPDn: hierarchical permissions disabled
  bool big_endian = false;
  bool ap_no_el0 = false, ap_no_write = false, tbl_pxn = false, tbl_uxn = false;

  // The lowest VA bit a lookup at `level` resolves.
  unsigned shift(int level) const { return static_cast<unsigned>(3 - level) * stride + gbits; }

  // Output address of a table or leaf descriptor whose address field starts
  // at bit `lo` (D8.3 "Translation table descriptor formats"; J1
  // AArch64.NextTableBase() and AArch64.LeafBase()): OA[47:lo] in place;
  // with the 64K granule OA[51:48] in bits [15:12]; with DS == 1 OA[49:48]
  // in place and OA[51:50] in bits [9:8]. The 64K bits [15:12] are decoded
  // whatever IPS says: non-zero under a smaller IPS they are an address
  // size fault on FEAT_LPA hardware (RES0 without it), an error here.
  std::uint64_t output_address(std::uint64_t desc, unsigned lo) const {
    std::uint64_t oa = desc & mask(47, lo);
    if (gbits == 16) oa |= field(desc, 15, 12) << 48;
    if (ds) oa |= (desc & mask(49, 48)) | (field(desc, 9, 8) << 50);
    return oa;
  }

  // Address size fault: an output address (table or leaf) above the
  // effective PA size (D8.2 "Output address size"; J1 AArch64.OAOutOfRange()).
  Status check_oa(std::uint64_t oa, int level, const WalkLevel& w, const char* what) const {
    if ((oa >> pa_bits) != 0)
      return make_error(EFAULT,
                        "VA {:#x}: level {} descriptor at PA {:#x} ({:#018x}) gives {} address {:#x}, beyond the "
                        "{}-bit output address size (address size fault)",
                        va, level, w.desc_pa, w.descriptor, what, oa, pa_bits);
    return {};
  }
};

// Stage 1 disabled (SCTLR_EL1.M == 0): the flat mapping, PA = VA, with
// every VA bit from the top address bit down to PAMax zero, else an
// address size fault (D8.2 "The effects of disabling address translation";
// J1 AArch64.S1DisabledOutput()). PAMax is taken as 52; a smaller machine
// simply has no RAM at those PAs.
Result<Translation> flat_mapping(Translation t, unsigned top) {
  const std::uint64_t va = t.va;
  t.mmu_off = true;
  if ((va & mask(top, kPaMax)) != 0)
    return make_error(EFAULT,
                      "VA {:#x}: with the MMU off (SCTLR_EL1.M == 0) bits [{}:{}] must be zero (flat mapping, "
                      "address size fault)",
                      va, top, kPaMax);
  t.pa = va & mask(kPaMax - 1, 0);
  t.size = (std::uint64_t{1} << kPaMax) - t.pa;
  t.writable = t.user = true;
  t.global = true;
  t.access_flag = true;
  return t;
}

// Granule, descriptor formats and output address size from TCR_EL1 (J1
// AArch64.S1TTWParams()). TCR_EL1.DS (FEAT_LPA2) changes the formats of the
// 4K and 16K granules only (D8.3: with the 64K granule bits [9:8] stay
// SH[1:0]); the 64K granule's 52-bit formats come with FEAT_LPA and IPS.
Status granule_params(std::uint64_t tcr, Walk& w) {
  auto gb = granule_bits(tcr, w.upper, w.va);
  if (!gb) return gb.error();
  w.gbits = *gb;
  w.stride = w.gbits - 3;
  w.ds = bit(tcr, kDs) && w.gbits != 16;
  const unsigned ips = static_cast<unsigned>(field(tcr, kIpsLo + 2, kIpsLo));
  w.lpa64 = w.gbits == 16 && ips >= 6;
  w.pa_bits = physical_address_size(ips, w.ds || w.gbits == 16);
  return {};
}

// Input address size 64 - TnSZ (D8.1 "Address translation": "Input address
// size"; J1 AArch64.S1MinTxSZ(), AArch64.MaxTxSZ()). The minimum TnSZ is 16
// (48-bit VA), 12 with FEAT_LVA (64K) or DS == 1; the maximum 48 (47 for
// 64K) with FEAT_TTST, 39 without. The 64K maximum is what keeps the input
// address wider than the granule: ia - 1 - gbits >= 0 in S1StartLevel().
// Out of range the hardware either faults or uses the limit, an
// IMPLEMENTATION DEFINED choice (J1 AArch64.S1InvalidTxSZ()): error, like
// the fault.
Status check_txsz(std::uint64_t tcr, Walk& w) {
  w.txsz = static_cast<unsigned>(field(tcr, kTxszLo[w.upper] + 5, kTxszLo[w.upper]));
  const unsigned min_txsz = (w.gbits == 16 || w.ds) ? 12 : 16;
  const unsigned max_txsz = w.gbits == 16 ? 47 : 48;
  if (w.txsz < min_txsz || w.txsz > max_txsz)
    return make_error(EFAULT, "VA {:#x}: TCR_EL1.T{}SZ = {} is outside {}..{} for the {} granule{} (translation fault)",
                      w.va, w.upper ? 1 : 0, w.txsz, min_txsz, max_txsz, size_name(std::uint64_t{1} << w.gbits),
                      w.ds ? " with DS == 1" : "");
  w.ia = 64 - w.txsz;
  return {};
}

// The VA must lie in the selected range: bits [top:ia] all equal to VA[55]
// (zeros for TTBR0, ones for TTBR1); otherwise it is in the hole between
// the two ranges, a level 0 translation fault (J1 AArch64.VAIsOutOfRange()).
Status check_va_range(const Walk& w) {
  const std::uint64_t range_bits = w.va & mask(w.top, w.ia);
  if (range_bits != (w.upper ? mask(w.top, w.ia) : 0))
    return make_error(EFAULT,
                      "VA {:#x} is outside both translation ranges: VA[55] = {} selects {}, whose {}-bit range "
                      "(T{}SZ = {}) needs bits [{}:{}] all {}{} (translation fault, level 0)",
                      w.va, w.upper ? 1 : 0, ttbr_name(w.upper), w.ia, w.upper ? 1 : 0, w.txsz, w.top, w.ia,
                      w.upper ? "ones" : "zeros", w.top == 55 ? "" : " (top byte not ignored: TBI clear)");
  return {};
}

// The walk's configuration, checked before the first lookup (J1
// AArch64.S1Walk(), AArch64.S1InitialTTWState()): granule, TnSZ, VA range
// and EPDn; then the start level, hierarchical permissions and walk
// endianness.
Result<Walk> walk_params(const TranslationRegs& regs, std::uint64_t va, bool upper, unsigned top) {
  const std::uint64_t tcr = regs.tcr_el1;
  Walk w;
  w.va = va;
  w.upper = upper;
  w.top = top;
  if (auto s = granule_params(tcr, w); !s) return s.error();
  if (auto s = check_txsz(tcr, w); !s) return s.error();
  if (auto s = check_va_range(w); !s) return s.error();

  // TCR_EL1.EPDn: walks from TTBRn disabled, a translation fault on a TLB
  // miss (D8.2 "Translation table walk disable"); a debugger has no TLB.
  if (bit(tcr, kEpd[upper]))
    return make_error(EFAULT, "VA {:#x}: walks from {} are disabled (TCR_EL1.EPD{} == 1; translation fault, level 0)",
                      va, ttbr_name(upper), upper ? 1 : 0);

  // Starting level: levels of `stride` bits each resolve the VA above the
  // page offset; level 3 is last (D8.2 "Translation table walk"; J1
  // AArch64.S1StartLevel(): 3 - ((ia - 1 - gbits) DIV stride)). E.g. 4K and
  // 48 bits: 3 - 35/9 = 0; 4K and 39 bits: 3 - 26/9 = 1; 16K and 48 bits:
  // 3 - 33/11 = 0; 64K and 48 bits: 3 - 31/13 = 1. 4K with DS and 52 bits
  // starts at level -1.
  w.start = 3 - static_cast<int>((w.ia - 1 - w.gbits) / w.stride);

  // Hierarchical permissions from table descriptors, unless TCR_EL1.HPDn
  // disables them (D8.4 "Memory access control": hierarchical permissions).
  w.hpd = bit(tcr, kHpd[upper]);
  // Walks use SCTLR_EL1.EE's endianness (D8.2 "Translation table walk").
  w.big_endian = bit(regs.sctlr_el1, kSctlrEe);
  return w;
}

// Initial table base from TTBRn_EL1.BADDR (J1 AArch64.TTBaseAddress()): bit
// 0 is CnP and [63:48] the ASID, both not part of the address. The initial
// table is aligned to its size (bits below it ignored); with a 52-bit
// format (64K and IPS 0b110, or DS == 1) BADDR[51:48] sit in TTBR[5:2] and
// the alignment is at least 64 bytes (D19 TTBR0_EL1/TTBR1_EL1). A base
// above the output address size is an address size fault at the start level.
Result<std::uint64_t> initial_table(const Walk& w, std::uint64_t ttbr) {
  unsigned tsize = w.ia - w.shift(w.start) + 3;  // log2 of the initial table's size in bytes
  std::uint64_t table;
  if (w.lpa64 || w.ds) {
    tsize = std::max(tsize, 6u);
    table = (field(ttbr, 5, 2) << 48) | (ttbr & mask(47, 6));
  } else {
    table = ttbr & mask(47, 1);
  }
  table &= ~mask(tsize - 1, 0);
  if ((table >> w.pa_bits) != 0)
    return make_error(EFAULT,
                      "VA {:#x}: {} base address {:#x} is beyond the {}-bit output address size (address size fault, "
                      "level {})",
                      w.va, ttbr_name(w.upper), table, w.pa_bits, w.start);
  return table;
}

// One lookup (J1 AArch64.TTEntryAddress(), FetchDescriptor()): the index is
// the VA bits this level resolves; the initial level takes what is left of
// the input address (D8.2 "Translation table walk"). A descriptor that
// cannot be read is an external abort on the walk.
Result<WalkLevel> fetch_descriptor(const Walk& w, int level, std::uint64_t table, const PhysReader& read) {
  const unsigned shift = w.shift(level);
  const unsigned width = level == w.start ? w.ia - shift : w.stride;
  WalkLevel lv;
  lv.level = level;
  lv.table_pa = table;
  lv.index = (w.va >> shift) & mask(width - 1, 0);
  lv.desc_pa = table + lv.index * 8;
  auto desc = read(lv.desc_pa);
  if (!desc)
    return make_error(EFAULT, "VA {:#x}: level {} descriptor at PA {:#x} cannot be read (external abort on walk): {}",
                      w.va, level, lv.desc_pa, desc.error().message);
  lv.descriptor = w.big_endian ? byteswap64(*desc) : *desc;
  return lv;
}

// Descriptor type, bits [1:0] (D8.3; J1 AArch64.DecodeDescriptorType()): x0
// invalid; 11 table below level 3, page at level 3; 01 block below level 3,
// reserved at level 3 (a translation fault, as is a block at a level that
// cannot hold one). Sets lv.kind ("invalid" on error).
Status decode_descriptor(const Walk& w, WalkLevel& lv) {
  const std::uint64_t d = lv.descriptor;
  const int level = lv.level;
  lv.kind = "invalid";
  if (!bit(d, 0))
    return make_error(EFAULT, "VA {:#x}: level {} descriptor at PA {:#x} is invalid ({:#x})", w.va, level, lv.desc_pa,
                      d);
  const bool leaf = level == 3 || !bit(d, 1);
  if (level == 3 && !bit(d, 1))
    return make_error(EFAULT,
                      "VA {:#x}: level 3 descriptor at PA {:#x} is invalid ({:#x}): 0b01 is a reserved encoding at "
                      "level 3",
                      w.va, lv.desc_pa, d);
  if (leaf && level < 3 && !block_allowed(w.gbits, level, w.ds, w.lpa64))
    return make_error(EFAULT,
                      "VA {:#x}: level {} descriptor at PA {:#x} is invalid ({:#x}): a block at level {}, but {}", w.va,
                      level, lv.desc_pa, d, level, block_rule(w.gbits));
  lv.kind = !leaf ? "table" : level == 3 ? "page" : "block";
  return {};
}

// A table descriptor: the next level's table address, and the table's
// APTable/PXNTable/UXNTable restrictions on everything below it unless
// TCR_EL1.HPDn (J1 AArch64.S1NextWalkStateTable()).
Result<std::uint64_t> next_table(Walk& w, const WalkLevel& lv) {
  const std::uint64_t d = lv.descriptor;
  const std::uint64_t table = w.output_address(d, w.gbits);
  if (auto s = w.check_oa(table, lv.level, lv, "next-level table"); !s) return s.error();
  if (!w.hpd) {
    w.ap_no_el0 |= bit(d, kTableAp0);
    w.ap_no_write |= bit(d, kTableAp1);
    w.tbl_pxn |= bit(d, kTablePxn);
    w.tbl_uxn |= bit(d, kTableUxn);
  }
  return table;
}

// Permissions, reported not enforced (D8.4 "Memory access control"):
// AP[2:1] 00 EL1 RW; 01 EL1 RW, EL0 RW; 10 EL1 RO; 11 EL1 RO, EL0 RO.
// APTable[1] removes write, APTable[0] EL0 access, for everything below.
// Execute-never: a location writable at EL0 is never executable at EL1,
// and SCTLR_EL1.WXN makes writable locations execute-never.
void leaf_permissions(const Walk& w, std::uint64_t d, std::uint64_t sctlr, Translation& t) {
  t.ap = static_cast<unsigned>(field(d, kDescAp2, kDescAp1));
  t.writable = !bit(d, kDescAp2) && !w.ap_no_write;
  t.user = bit(d, kDescAp1) && !w.ap_no_el0;
  const bool user_writable = t.user && t.writable;
  const bool wxn = bit(sctlr, kSctlrWxn);
  t.pxn = bit(d, kDescPxn) || w.tbl_pxn || user_writable || (wxn && t.writable);
  t.uxn = bit(d, kDescUxn) || w.tbl_uxn || (wxn && user_writable);
  t.access_flag = bit(d, kDescAf);
  t.global = !bit(d, kDescNg);
  t.attr_index = static_cast<unsigned>(field(d, kDescAttrIndxLo + 2, kDescAttrIndxLo));
}

// Block or page: OA = the entry's output address + the VA's offset within
// the entry (D8.3 "Block descriptor", "Page descriptor"; J1
// AArch64.S1NextWalkStateLeaf()).
Status leaf_output(const Walk& w, const WalkLevel& lv, std::uint64_t sctlr, Translation& t) {
  const unsigned shift = w.shift(lv.level);
  const std::uint64_t entry_size = std::uint64_t{1} << shift;
  const std::uint64_t base = w.output_address(lv.descriptor, shift) & ~mask(shift - 1, 0);
  if (auto s = w.check_oa(base, lv.level, lv, "output"); !s) return s.error();
  const std::uint64_t offset = w.va & mask(shift - 1, 0);
  t.pa = base + offset;
  t.size = entry_size - offset;
  t.entry_size = entry_size;
  t.leaf_level = lv.level;
  leaf_permissions(w, lv.descriptor, sctlr, t);
  return {};
}

}  // namespace

// The structure of J1 AArch64.S1Translate() / AArch64.S1Walk(): VA range and
// top byte, the MMU-off flat mapping, the walk parameters, the initial
// table, then one lookup per level until a block or page.
Result<Translation> translate(const TranslationRegs& regs, std::uint64_t va, const PhysReader& read,
                              std::vector<WalkLevel>* trace) {
  std::vector<WalkLevel> local;
  std::vector<WalkLevel>& levels = trace ? *trace : local;
  levels.clear();

  Translation t;
  t.va = va;
  // The EL1&0 regime has two VA ranges; VA[55] selects the one, hence TTBR0
  // or TTBR1 and its TCR_EL1 fields, whether or not the top byte is ignored
  // (D8.1 "Address translation": VA ranges; J1 AArch64.GetVARange()).
  t.upper = bit(va, 55);
  // Top Byte Ignore: with TBIn set, VA[63:56] take no part in translation,
  // for data accesses (TBIDn restricts it to data, which is what a debugger
  // reads). AArch64.AddrTop(): the top address bit checked is 55, else 63.
  t.tbi = bit(regs.tcr_el1, kTbi[t.upper]);
  const unsigned top = t.tbi ? 55 : 63;
  if (!bit(regs.sctlr_el1, kSctlrM)) return flat_mapping(t, top);

  auto params = walk_params(regs, va, t.upper, top);
  if (!params) return params.error();
  Walk& w = *params;
  t.granule = 1u << w.gbits;
  t.pa_bits = w.pa_bits;
  t.va_bits = w.ia;
  t.start_level = w.start;
  t.ttbr = w.upper ? regs.ttbr1_el1 : regs.ttbr0_el1;
  auto table = initial_table(w, t.ttbr);
  if (!table) return table.error();

  for (int level = w.start; level <= 3; ++level) {
    auto lv = fetch_descriptor(w, level, *table, read);
    if (!lv) return lv.error();
    const Status decoded = decode_descriptor(w, *lv);
    levels.push_back(*lv);
    if (!decoded) return decoded.error();
    if (lv->kind == "table") {
      table = next_table(w, *lv);
      if (!table) return table.error();
      continue;
    }
    if (auto s = leaf_output(w, *lv, regs.sctlr_el1, t); !s) return s.error();
    t.levels = levels;
    return t;
  }
  // Level 3 always returns above.
  return make_error(EFAULT, "VA {:#x}: translation table walk did not end", va);
}

PhysReader backend_phys_reader(kvm::Backend& backend) {
  return [&backend](std::uint64_t pa) -> Result<std::uint64_t> {
    std::array<std::byte, 8> buf{};
    auto n = backend.read_phys(pa, buf);
    if (!n) return make_error(EFAULT, "PA {:#x}: {}", pa, n.error().message);
    if (*n < buf.size()) return make_error(EFAULT, "PA {:#x} is beyond the end of guest RAM", pa);
    return load_le<std::uint64_t>(std::span<const std::byte>(buf), 0);
  };
}

std::string format_levels(const std::vector<WalkLevel>& levels) {
  std::string out;
  for (const auto& l : levels)
    out += fmt::format("  level {:>2}: table {:#x}[{:#x}]: descriptor at PA {:#x} = {:#018x} {}\n", l.level, l.table_pa,
                       l.index, l.desc_pa, l.descriptor, l.kind);
  return out;
}

std::string format_walk(const Translation& t) {
  const std::string tag = t.tbi && (t.va >> 56) != 0
                              ? fmt::format(", tag {:#x} ignored (TBI{})", t.va >> 56, t.upper ? 1 : 0)
                              : std::string();
  if (t.mmu_off)
    return fmt::format("VA {:#x}: MMU off (SCTLR_EL1.M == 0), flat mapping{}\n  => PA {:#x}\n", t.va, tag, t.pa);
  std::string out = fmt::format(
      "VA {:#x}: {} = {:#x} (ASID {:#x}), {} granule, {}-bit VA, {}-bit PA, "
      "start level {}{}\n",
      t.va, ttbr_name(t.upper), t.ttbr, field(t.ttbr, 63, 48), size_name(t.granule), t.va_bits, t.pa_bits,
      t.start_level, tag);
  out += format_levels(t.levels);
  out += fmt::format(
      "  => PA {:#x}: {} {}, {:#x} bytes to its end; EL1 {}, EL0 {} (AP[2:1] = {:#04b}){}{}; "
      "AttrIndx {}{}{}\n",
      t.pa, size_name(t.entry_size), t.leaf_level == 3 ? "page" : "block", t.size, t.writable ? "RW" : "RO",
      !t.user      ? "none"
      : t.writable ? "RW"
                   : "RO",
      t.ap, t.pxn ? ", PXN" : "", t.uxn ? ", UXN" : "", t.attr_index, t.access_flag ? ", AF" : ", AF clear",
      t.global ? "" : ", nG");
  return out;
}

}  // namespace svedbg::introspect
