// The attach backend's monitor commands (AttachBackend::monitor, see
// attach_backend.hpp): `monitor attach` reports (the text is
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
  return r;
}

std::optional<Result<std::string>> AttachBackend::monitor(std::string_view command) {
  auto& im = *impl_;
  if (command == "attach batch on" || command == "attach batch off") {
    const bool on = command == "attach batch on";
    if (on && !im.batches.has_cave())
      return Result<std::string>(fmt::format("batched register reads: off ({})\n", im.batches.note()));
    im.batches.set_enabled(on);
    return Result<std::string>(fmt::format("batched register reads: {}\n", on ? "on" : "off"));
  }
  if (command == "attach colocate on" || command == "attach colocate off") {
    im.colocation.set_enabled(command == "attach colocate on");
    return Result<std::string>(
        fmt::format("tracer and VMM thread on one CPU during a stop: {}\n", im.colocation.enabled() ? "on" : "off"));
  }
  if (command != "attach") return std::nullopt;
  return Result<std::string>(format_attach_report(report()));
}

std::string AttachBackend::monitor_help() const {
  // Same layout as GuestTarget's own lines ("monitor NAME   what it does").
  return "monitor attach               the attached VMM: vCPU fds, threads, guest RAM, injected\n"
         "                             system calls, trips into the VMM per stop\n"
         "monitor attach batch on|off  many registers per trip into the VMM (default), or one\n"
         "                             injected system call per register\n"
         "monitor attach colocate on|off  svedbg and the VMM thread it injects on share one CPU\n"
         "                             during a stop (default), or run where the scheduler puts them\n";
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
