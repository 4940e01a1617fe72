// The attach backend's monitor commands (AttachBackend::add_monitor_commands,
// see attach_backend.hpp): `monitor attach` reports (the text is
// format_attach_report's, attach_stats.hpp), `monitor attach batch on|off`
// and `monitor attach colocate on|off` tune svedbg; none changes the guest.
#if defined(__aarch64__)

#include <fmt/format.h>

#include "kvm/attach/attach_backend.hpp"
#include "kvm/attach/attach_impl.hpp"

namespace svedbg::kvm {

AttachReport AttachBackend::report() const {
  const auto& im = *impl_;
  AttachReport r;
  r.description = describe();
  for (const auto& v : vcpus_) r.vcpus.push_back({v.id, v.fd, im.threads.thread_of_fd(v.fd), v.run});
  r.threads_traced = im.threads.thread_count();
  r.totals = counters_.totals();
  r.this_stop = im.cost.current();
  r.last_stop = im.cost.last();
  r.batching = im.batches.enabled();
  r.cave_addr = im.batches.cave().addr;
  r.cave_path = im.batches.cave().path;
  r.loop_written = im.batches.loop_written();
  r.batching_note = im.batches.note();
  r.colocate = im.colocation.enabled();
  r.pin_cpu = im.colocation.cpu();
  r.last_all_stop = im.threads.last_stop_time();
  r.memory = own_memory();
  return r;
}

void AttachBackend::add_monitor_commands(MonitorRegistry& registry) {
  const auto on_off = [](std::string_view args) -> std::optional<bool> {
    if (args == "on") return true;
    if (args == "off") return false;
    return std::nullopt;
  };
  registry.add({"attach", "",
                "the attached VMM: vCPU fds, threads, guest RAM, injected system calls, trips into the VMM per stop",
                false, [this](std::string_view args) -> Result<std::string> {
                  if (!args.empty()) return make_error(EINVAL, "usage: monitor attach");
                  return format_attach_report(report());
                }});
  registry.add({"attach batch", "on|off",
                "many registers per trip into the VMM (default), or one injected system call per register", false,
                [this, on_off](std::string_view args) -> Result<std::string> {
                  const auto on = on_off(args);
                  if (!on) return make_error(EINVAL, "usage: monitor attach batch on|off");
                  auto& im = *impl_;
                  if (*on && !im.batches.has_cave())
                    return fmt::format("batched register reads: off ({})\n", im.batches.note());
                  im.batches.set_enabled(*on);
                  return fmt::format("batched register reads: {}\n", *on ? "on" : "off");
                }});
  registry.add({"attach colocate", "on|off",
                "svedbg and the VMM thread it injects on share one CPU during a stop (default), or run where the "
                "scheduler puts them",
                false, [this, on_off](std::string_view args) -> Result<std::string> {
                  const auto on = on_off(args);
                  if (!on) return make_error(EINVAL, "usage: monitor attach colocate on|off");
                  auto& im = *impl_;
                  im.colocation.set_enabled(*on);
                  return fmt::format("tracer and VMM thread on one CPU during a stop: {}\n",
                                     im.colocation.enabled() ? "on" : "off");
                }});
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
