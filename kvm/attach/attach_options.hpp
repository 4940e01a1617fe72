// kvm/attach/attach_options: how kvm::AttachBackend::attach() is asked to
// attach, and the hooks tests use to inject faults.
//
// Contract: AttachOptions::memory lists guest RAM (--mem GPA:SIZE[@HVA]);
// empty: found in the VMM's mappings. `log` receives one line per notice
// (empty: stderr, "svedbg: " first). FaultHooks are for tests only; an
// empty hook does nothing. batch_started(vmm, n) runs on the tracer thread
// right after the n-th run (from 1, counted since attach) of the batch
// loop has been started, while a VMM thread runs svedbg's loop: the one
// moment svedbg's own code runs inside the VMM.
// fault_hooks_from_spec() turns the text of SVEDBG_FAULT_INJECT (read once,
// by the command-line tool) into hooks: "kill-vmm-in-batch:N" (N >= 1)
// sends the VMM SIGKILL during batch N and logs it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {

using LogFn = std::function<void(const std::string&)>;

struct FaultHooks {
  std::function<void(pid_t vmm, std::uint64_t batch)> batch_started;
};

struct AttachOptions {
  std::vector<RamRange> memory;  // empty: from the VMM's mappings
  LogFn log;                     // empty: stderr
  FaultHooks faults;             // tests only
};

Result<FaultHooks> fault_hooks_from_spec(std::string_view spec, LogFn log);

}  // namespace svedbg::kvm
