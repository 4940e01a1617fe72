// Fault hooks from SVEDBG_FAULT_INJECT's text (see attach_options.hpp).
#include "kvm/attach/attach_options.hpp"

#include <signal.h>

#include <cstdlib>

#include <fmt/format.h>

namespace svedbg::kvm {

Result<FaultHooks> fault_hooks_from_spec(std::string_view spec, LogFn log) {
  constexpr std::string_view kKillInBatch = "kill-vmm-in-batch:";
  std::uint64_t at = 0;
  if (spec.rfind(kKillInBatch, 0) == 0) {
    const std::string n(spec.substr(kKillInBatch.size()));
    at = std::strtoull(n.c_str(), nullptr, 10);
  }
  if (at == 0) return make_error(EINVAL, "SVEDBG_FAULT_INJECT={}: expected kill-vmm-in-batch:N (N >= 1)", spec);
  log(fmt::format("fault injection: the VMM gets SIGKILL during batch {}", at));
  FaultHooks hooks;
  hooks.batch_started = [at, log](pid_t vmm, std::uint64_t batch) {
    if (batch != at) return;
    log(fmt::format("fault injection: SIGKILL to the VMM (pid {}) during batch {}", vmm, at));
    ::kill(vmm, SIGKILL);
  };
  return hooks;
}

}  // namespace svedbg::kvm
