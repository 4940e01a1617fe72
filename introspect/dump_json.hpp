// introspect::dump_json: a guest's state as a versioned JSON document.
//
// Contract: write_json_dump() writes one JSON object following
// docs/dump-schema.json, version kJsonDumpVersion ("svedbg_dump": 1):
// "source" (what was dumped), "vcpus" (one object per snapshot, in vCPU
// order) and, when `memory` is non-null, "memory" (each range of the
// backend's memory map with its bytes as hex). Scalars wider than 32 bits
// are "0x..." strings (lowercase hex, JSON numbers lose precision above
// 2^53); vector registers are hex strings of their bytes in memory order
// (byte 0 first, as on the gdb wire), exactly effective-VL long: Z 2*L,
// P/FFR L/4 hex digits for an L-byte VL; a vCPU without SVE has "v" (32
// FPSIMD registers of 16 bytes) instead of "z"/"p"/"ffr". Output errors are
// EIO; memory read errors are passed through (the document is then
// incomplete and the caller must discard it).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "introspect/vcpu_snapshot.hpp"

namespace svedbg::introspect {

inline constexpr int kJsonDumpVersion = 1;

struct DumpSource {
  std::string kind;    // "sim", "core", "kvm"
  std::string detail;  // human description: fixture, file name, VMM
};

Status write_json_dump(std::FILE* out, const DumpSource& source, const std::vector<VcpuSnapshot>& vcpus,
                       kvm::Backend* memory);

}  // namespace svedbg::introspect
