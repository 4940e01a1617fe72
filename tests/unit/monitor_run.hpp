// Test helper: runs a monitor command line against one backend's own
// commands (kvm::Backend::add_monitor_commands), as GuestTarget's registry
// would, without a target around it. nullopt: not one of its commands.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/monitor.hpp"
#include "kvm/backend.hpp"

namespace svedbg::test {

inline std::optional<Result<std::string>> run_monitor(kvm::Backend& backend, std::string_view line) {
  MonitorRegistry registry;
  backend.add_monitor_commands(registry);
  auto match = registry.find(line);
  if (!match) return std::nullopt;
  return match->command->run(match->args);
}

inline std::string monitor_help(kvm::Backend& backend) {
  MonitorRegistry registry;
  backend.add_monitor_commands(registry);
  return registry.help();
}

}  // namespace svedbg::test
