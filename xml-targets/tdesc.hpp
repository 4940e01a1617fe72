// AArch64 GDB target descriptions generated from data, one per vector length.
//
// Contract: a description is a table of features (core; then fpu *or* sve;
// further features append after the last one), each contributing XML types
// and a run of register specs. register_table() and target_xml() render that
// table for one (sve, vq) pair: registers come in GDB number order, numbered
// contiguously from 0 (core x0..cpsr = 0..33, fpu v0..fpcr = 34..67, or sve
// z0..z31, fpsr, fpcr, p0..p15, ffr, vg = 34..85), with regnum="N" written on
// the first register of each feature, and the XML is one self-contained
// document (no xi:include) with deterministic 2-space formatting. Names,
// order, sizes and type ids follow GDB's own gdb/features/aarch64-{core,fpu,
// sve}.c, so GDB maps them onto its fixed AArch64 register numbers and
// recognises SVE. vq is the number of 128-bit quadwords in a Z register and
// must be 1..kMaxVq when sve is true (it is ignored, and may be anything,
// when sve is false); an out-of-range vq is a caller bug and throws
// std::invalid_argument (use check_vq() first for untrusted input). Results
// are built once per (sve, vq), cached for the life of the process (never
// destroyed, so references stay valid even during static destruction) and
// safe to request from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace svedbg::xml {

// What a register is, so callers can route it to the right vCPU state
// without parsing names.
enum class RegClass { X, Sp, Pc, Cpsr, V, Z, Fpsr, Fpcr, P, Ffr, Vg, Sys };

// The EL1 system registers of the "org.svedbg.aarch64.sysregs" feature,
// which follows the GDB features (after vg, or after fpcr without SVE).
// RegSpec::index holds the SysReg for RegClass::Sys. zcr_el1 exists only in
// SVE descriptions (KVM hides ZCR_EL1 from vCPUs without SVE).
enum class SysReg : unsigned {
  ZcrEl1,
  SctlrEl1,
  TcrEl1,
  Ttbr0El1,
  Ttbr1El1,
  MairEl1,
  VbarEl1,
  EsrEl1,
  FarEl1,
  ElrEl1,
  SpsrEl1,
  SpEl1,
  MidrEl1,
  MpidrEl1,
};
inline constexpr unsigned kSysRegCount = 14;

struct RegSpec {
  unsigned regnum;   // GDB register number (= remote protocol number)
  std::string name;  // e.g. "x0", "z31", "ffr"
  unsigned bitsize;  // size in bits; bytes in `g`/`p` packets = bitsize / 8
  std::string type;  // tdesc type id, e.g. "int", "svev", "cpsr_flags"
  RegClass cls;
  unsigned index;  // n of xN/vN/zN/pN, 0 otherwise
};

// Compatibility notes. GDB 13.1 (gdb-multiarch, checked by
// tests/xml/check-with-gdb) accepts every description produced here as is: the bfloat16 and
// ieee_half element types, the fpsr_flags/fpcr_flags flag types (including the
// newer AH, NEP, EBF fpcr bits) and the multi-bit flag fields all parse, and
// with the sve feature GDB builds its q/d/s/h/b/v pseudo registers on top of
// z0..z31. Two GDB 13 sharp edges motivate the checks here: a Z register wider
// than 2048 bits (vq > 16) makes GDB hit an internal-error ("VQ out of
// bounds") instead of rejecting the description, and GDB silently sizes z/p
// from the vector *types* (deriving vq from z0's bitsize), so a bitsize that
// disagreed with the svev* counts would desynchronise the `g` packet without
// warning. A description GDB rejects is only reported as a warning
// ("Architecture rejected target-supplied description") and GDB falls back to
// its default AArch64 layout, which is why the gdb check treats that warning
// as failure.
//
// 2048-bit vectors: the SVE architectural maximum and KVM's maximum today.
inline constexpr unsigned kMaxVq = 16;

// Ok iff vq is a valid SVE vector length in quadwords (1..kMaxVq); the error
// is EINVAL with a message naming the value and the allowed range.
Status check_vq(unsigned vq);

// Register table of one description, in GDB number order; vq must be
// 1..kMaxVq when sve (ignored otherwise). Cached, thread-safe, references
// stay valid forever.
const std::vector<RegSpec>& register_table(bool sve, unsigned vq);

// The complete target.xml document for the same table (what `qXfer:features:
// read:target.xml` serves). Cached like register_table().
const std::string& target_xml(bool sve, unsigned vq);

// Bytes of the whole `g` block for that table (sum of bitsize / 8; the hex
// packet is twice as long).
std::size_t g_packet_size(bool sve, unsigned vq);

}  // namespace svedbg::xml
