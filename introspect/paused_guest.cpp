#include "introspect/paused_guest.hpp"

#include <cstdio>
#include <thread>
#include <utility>

namespace svedbg::introspect {

Result<bool> stop_all_vcpus(std::string_view backend_name, kvm::RunControl& run, std::chrono::milliseconds timeout) {
  if (!run.running()) return false;
  run.interrupt();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (run.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (run.running()) return make_error(ETIMEDOUT, "{}: vCPUs did not stop within {} ms", backend_name, timeout.count());
  return true;
}

void AttachStop::begin(kvm::RunControl* run) { run_ = run; }

Result<std::optional<kvm::BackendStop>> AttachStop::settle(std::string_view backend_name,
                                                           std::chrono::milliseconds timeout) {
  kvm::RunControl* run = std::exchange(run_, nullptr);
  if (!run) return std::optional<kvm::BackendStop>{};
  if (auto r = stop_all_vcpus(backend_name, *run, timeout); !r) return r.error();
  // A stop nobody collected belongs to the previous client (or is ours),
  // unless the guest is gone.
  if (auto s = run->poll_stop(); s && s->reason == kvm::StopReason::Exited) return s;
  return std::optional<kvm::BackendStop>{};
}

Result<std::unique_ptr<PausedGuest>> PausedGuest::pause(kvm::Backend& backend, std::chrono::milliseconds timeout) {
  kvm::RunControl* run = backend.run_control();
  if (!run) return std::unique_ptr<PausedGuest>(new PausedGuest(nullptr, false));
  auto was_running = stop_all_vcpus(backend.name(), *run, timeout);
  if (!was_running) return was_running.error();
  if (*was_running) (void)run->poll_stop();  // the stop our interrupt caused
  return std::unique_ptr<PausedGuest>(new PausedGuest(run, *was_running));
}

PausedGuest::~PausedGuest() {
  if (!was_running_) return;
  if (auto s = run_->resume({}, true); !s)
    std::fprintf(stderr, "svedbg: could not resume the guest after the dump: %s\n", s.error().message.c_str());
}

}  // namespace svedbg::introspect
