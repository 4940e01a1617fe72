// introspect::page_walk: the AArch64 stage-1 translation table walk of the
// EL1&0 regime, done in software so the debugger can read guest memory by
// virtual address.
//
// Contract: translate() maps one VA to a PA the way the guest's MMU would for
// a privileged (EL1) data access, from SCTLR_EL1/TCR_EL1/TTBR0_EL1/TTBR1_EL1
// alone (DDI 0487 chapter D8, "The AArch64 Virtual Memory System
// Architecture"; the J1 pseudocode functions named in page_walk.cpp). It reads
// descriptors through a PhysReader, never writes (no Access flag or dirty
// updates), and does not enforce permissions: AP/APTable/XN are decoded and
// reported, because a debugger reads through them. With SCTLR_EL1.M == 0 the
// result is the flat mapping (PA = VA, top byte ignored under TBI). Every
// fault the hardware would take for a read (translation fault: VA outside
// both ranges, EPDx, invalid or reserved descriptor, block at a level that
// cannot hold one; address size fault; reserved TGx; TxSZ out of range;
// descriptor read failure) is an EFAULT Error naming the VA, level,
// descriptor PA and value. Features the registers alone cannot reveal are
// assumed present when the configuration uses them (FEAT_TTST, FEAT_LVA,
// FEAT_LPA2 when TCR_EL1.DS == 1, FEAT_LPA for the 64K granule when
// TCR_EL1.IPS selects 52 bits); where the hardware's behaviour would depend
// on an unknown IMPLEMENTATION DEFINED choice, translate() reports an error
// rather than guess a PA. Not modelled: stage 2 (the hypervisor's), FEAT_D128
// (128-bit descriptors), FEAT_S1PIE/S1POE (TCR2_EL1), PAN, AF faults, the
// Contiguous hint (size is one entry's), EL0-only controls (E0PDx, NFDx).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

struct TranslationRegs {
  std::uint64_t sctlr_el1, tcr_el1, ttbr0_el1, ttbr1_el1;
};

// One lookup of the walk: the table at `table_pa` indexed by `index` gives
// the descriptor read at `desc_pa`.
struct WalkLevel {
  int level = 0;  // -1 (FEAT_LPA2, 4K granule) .. 3
  std::uint64_t table_pa = 0;
  std::uint64_t index = 0;
  std::uint64_t desc_pa = 0;
  std::uint64_t descriptor = 0;
  std::string kind;  // "table", "block", "page", "invalid" (reserved encodings included)
};

struct Translation {
  std::uint64_t va = 0;  // as given, tag included
  std::uint64_t pa = 0;
  std::uint64_t size = 0;         // bytes mapped contiguously from va by this entry: block/page size minus offset
                                  // (MMU off: up to the end of the 52-bit PA space)
  std::uint64_t entry_size = 0;   // the block/page size (0 when the MMU is off)
  std::vector<WalkLevel> levels;  // empty when the MMU is off
  bool writable = false;          // EL1 may write: AP[2] == 0 and no APTable[1] on the way
  bool user = false;              // EL0 may access: AP[1] == 1 and no APTable[0] on the way
  bool pxn = false;               // not executable at EL1 (PXN, PXNTable, EL0-writable, WXN)
  bool uxn = false;               // not executable at EL0 (UXN, UXNTable, WXN)
  bool access_flag = false;       // AF (a debugger read does not fault on AF == 0)
  bool global = false;            // nG == 0
  unsigned ap = 0;                // the leaf's AP[2:1]
  unsigned attr_index = 0;        // AttrIndx: the MAIR_EL1 byte describing the memory type
  // How the walk was configured.
  bool mmu_off = false;    // SCTLR_EL1.M == 0: flat mapping; only upper and tbi below are set
  bool upper = false;      // VA[55] == 1: TTBR1_EL1 (else TTBR0_EL1)
  bool tbi = false;        // TBI0/TBI1 applied: VA[63:56] ignored
  std::uint64_t ttbr = 0;  // the TTBRn_EL1 value used
  unsigned granule = 0;    // bytes: 4096, 16384 or 65536
  unsigned va_bits = 0;    // 64 - TnSZ
  unsigned pa_bits = 0;    // effective output address size
  int start_level = 0;
  int leaf_level = 0;
};

// Reads the 64-bit descriptor at `pa` as a little-endian value (translate()
// swaps it when SCTLR_EL1.EE says walks are big-endian).
using PhysReader = std::function<Result<std::uint64_t>(std::uint64_t pa)>;

// `trace`, when given, receives the levels walked so far, also on error (for
// a faulting descriptor, the last one; a descriptor that could not be read
// is not in it), for `monitor translate`.
Result<Translation> translate(const TranslationRegs& regs, std::uint64_t va, const PhysReader& read,
                              std::vector<WalkLevel>* trace = nullptr);

// A PhysReader over Backend::read_phys: a short read (end of RAM) or a
// read error is EFAULT naming the PA.
PhysReader backend_phys_reader(kvm::Backend& backend);

// What `monitor translate ADDR` prints: a header line with the regime
// configuration, one line per level, then the result. format_levels() is the
// per-level part, for printing a failed walk's trace before its error.
std::string format_walk(const Translation& t);
std::string format_levels(const std::vector<WalkLevel>& levels);

}  // namespace svedbg::introspect
