#include "introspect/paused_guest.hpp"

#include <cstdio>
#include <thread>

namespace svedbg::introspect {

Result<std::unique_ptr<PausedGuest>> PausedGuest::pause(kvm::Backend& backend, std::chrono::milliseconds timeout) {
  const bool was_running = backend.running();
  if (was_running) {
    backend.interrupt();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (backend.running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (backend.running())
      return make_error(ETIMEDOUT, "{}: vCPUs did not stop within {} ms", backend.name(), timeout.count());
    (void)backend.poll_stop();  // the stop our interrupt caused
  }
  return std::unique_ptr<PausedGuest>(new PausedGuest(backend, was_running));
}

PausedGuest::~PausedGuest() {
  if (!was_running_) return;
  if (auto s = backend_.resume({}, true); !s)
    std::fprintf(stderr, "svedbg: could not resume the guest after the dump: %s\n", s.error().message.c_str());
}

}  // namespace svedbg::introspect
