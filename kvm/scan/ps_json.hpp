// kvm/scan/ps_json: a scan as the JSON document of `svedbg ps --json`, and
// the help text describing both outputs.
//
// Contract: format_json() gives one JSON object, format version 1
// ("svedbg_ps": 1), with the fields kPsJsonHelp lists, in that order, and
// a final newline. Strings are common/json.hpp literals (pure ASCII; names
// and argv that are not UTF-8 as Latin-1). Unknown or not-read values are
// null, never omitted, except "fds" (only for a vCPU with several fds) and
// "kernel_worker" (only when true). kPsJsonHelp is the footer of `svedbg
// ps --help`: the table's columns and the JSON fields.
#pragma once

#include <string>

#include "kvm/scan/vmm_scan.hpp"

namespace svedbg::kvm {

std::string format_json(const VmmScan& scan);

extern const char* const kPsJsonHelp;

}  // namespace svedbg::kvm
