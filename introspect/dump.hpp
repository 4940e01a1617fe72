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
// terminal and the RAM is at least kProgressMinBytes. When the request
// names a DumpTimes, dump_guest() fills in how long its stop, register
// reads and file write took (issue 18: how long a dump pauses the VMM);
// format_dump_times() is `svedbg dump --times`'s line.
#pragma once

#include <chrono>
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

// The phases of one dump, each a duration. dump_guest() sets stop, read
// and write; the caller opening and closing the guest sets open and close
// (attached with --pid, the VMM's threads are seized and stopped during
// open and run again only at the end of close: `svedbg dump --pid` keeps
// the VMM stopped from within open to the end of close).
struct DumpTimes {
  std::chrono::nanoseconds open{0};   // opening the guest (--pid: seize, stop, set-up)
  std::chrono::nanoseconds stop{0};   // PausedGuest::pause (0-ish when already stopped)
  std::chrono::nanoseconds read{0};   // every vCPU's registers (take_snapshots)
  std::chrono::nanoseconds write{0};  // the file, guest RAM included, up to its rename
  std::chrono::nanoseconds close{0};  // closing the guest (--pid: detach; the VMM runs again)
  unsigned vcpus = 0;
};

// "svedbg dump: times (ms): open O, stop S, read R (P per vCPU), write W,
// close C; total T" with three decimals (stable: bench/scale-nested reads it).
std::string format_dump_times(const DumpTimes& times);

struct DumpRequest {
  DumpFormat format = DumpFormat::Json;
  std::string output;  // file name, or "-" for stdout (JSON)
  bool memory = false;
  SveNotes sve_notes = SveNotes::Gdb13;
  DumpSource source;
  DumpTimes* times = nullptr;  // filled in when set
};

Status dump_guest(kvm::Backend& backend, const DumpRequest& request);

}  // namespace svedbg::introspect
