// introspect::PausedGuest: keeps every vCPU of a Backend stopped for a scope.
//
// Contract: stop_all_vcpus() is the all-stop both a connecting client
// (GuestTarget::attach) and a dump need: RunControl::interrupt() when any
// vCPU runs, then wait until !running(), bounded by `timeout` (ETIMEDOUT
// naming the backend otherwise); it returns whether the guest was running.
// pause() does that and collects the stop it caused. The destructor resumes
// the guest (all vCPUs, no single-step) if and only if it was running
// before pause(); a guest that was stopped stays stopped, and a backend
// without run control (a core file) is never running. Used by dumps, which
// must read every vCPU at one instant. AttachStop is the same stop for a
// connecting client, split in two (below).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "common/result.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

Result<bool> stop_all_vcpus(std::string_view backend_name, kvm::RunControl& run, std::chrono::milliseconds timeout);

// The all-stop of a connecting client, deferred to where it is first
// needed, so that the client's handshake (qSupported, QStartNoAckMode, the
// target description) is answered at once while the guest runs. A reply
// later than gdb's remotetimeout (2 s by default) in acknowledged mode
// breaks the connection: gdb sends a NAK, the stub's answer to it repeats
// the late reply, and gdb takes that for the reply to its next packet
// ("Remote replied unexpectedly to 'vMustReplyEmpty'", gdb 13.1); after
// QStartNoAckMode gdb waits three remotetimeouts. Stopping 64 spinning
// vCPUs on a loaded host takes longer than 2 s (tests/nested/cases/
// attach_64vcpus, docs/scale.md). begin() records the stop; settle()
// does it: stop_all_vcpus() bounded by `timeout`, then collects the stop
// it caused; a stop nobody collected that says the guest is gone
// (StopReason::Exited) is returned, because every client must hear that.
// Only the first settle() after a begin() does anything; the others
// return nothing at once. cancel(): the client left unsettled. No run
// control: nothing to stop.
class AttachStop {
 public:
  void begin(kvm::RunControl* run);
  Result<std::optional<kvm::BackendStop>> settle(std::string_view backend_name, std::chrono::milliseconds timeout);
  bool pending() const { return run_ != nullptr; }
  void cancel() { run_ = nullptr; }  // the client left before settle()

 private:
  kvm::RunControl* run_ = nullptr;  // set while a begun stop is not settled
};

class PausedGuest {
 public:
  static Result<std::unique_ptr<PausedGuest>> pause(kvm::Backend& backend,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~PausedGuest();
  PausedGuest(const PausedGuest&) = delete;
  PausedGuest& operator=(const PausedGuest&) = delete;

  bool was_running() const { return was_running_; }

 private:
  PausedGuest(kvm::RunControl* run, bool was_running) : run_(run), was_running_(was_running) {}
  kvm::RunControl* run_;
  bool was_running_;
};

}  // namespace svedbg::introspect
