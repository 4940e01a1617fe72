// introspect::dump: `svedbg dump`, a scripted snapshot of a whole guest.
//
// Contract: dump_guest() stops every vCPU (PausedGuest), snapshots each one
// through the Backend's KVM register IDs (take_snapshots), writes the
// requested format (JSON: dump_json.hpp; ELF core: core_writer.hpp) with
// guest RAM when `memory` is set, and resumes the guest afterwards if it
// was running. Output goes to a temporary file next to `output` (mode
// 0600: it holds guest state) that is renamed over `output` only once
// complete, so a failed dump leaves no partial file, nor does one ended
// by SIGINT, SIGTERM or SIGHUP (where their action is the default, the
// temporary file is unlinked and the process then ends by the signal); `output` "-" means
// stdout and is accepted for JSON only (EINVAL for ELF). While guest RAM is
// written to an ELF core, a percentage is shown on stderr when stderr is a
// terminal and the RAM is at least kProgressMinBytes.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "introspect/core_writer.hpp"
#include "introspect/dump_json.hpp"

namespace svedbg::introspect {

enum class DumpFormat { Json, Elf };
Result<DumpFormat> parse_dump_format(const std::string& text);

inline constexpr std::uint64_t kProgressMinBytes = std::uint64_t{64} << 20;

struct DumpRequest {
  DumpFormat format = DumpFormat::Json;
  std::string output;  // file name, or "-" for stdout (JSON)
  bool memory = false;
  SveNotes sve_notes = SveNotes::Gdb13;
  DumpSource source;
};

Status dump_guest(kvm::Backend& backend, const DumpRequest& request);

}  // namespace svedbg::introspect
