// introspect::PausedGuest: keeps every vCPU of a Backend stopped for a scope.
//
// Contract: pause() stops a running guest the way GuestTarget::attach does
// (Backend::interrupt, then wait until !running(), bounded by `timeout`;
// ETIMEDOUT otherwise) and collects the stop it caused. The destructor
// resumes the guest (all vCPUs, no single-step) if and only if it was
// running before pause(); a guest that was stopped stays stopped. Used by
// dumps, which must read every vCPU at one instant.
#pragma once

#include <chrono>
#include <memory>

#include "common/result.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

class PausedGuest {
 public:
  static Result<std::unique_ptr<PausedGuest>> pause(kvm::Backend& backend,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~PausedGuest();
  PausedGuest(const PausedGuest&) = delete;
  PausedGuest& operator=(const PausedGuest&) = delete;

  bool was_running() const { return was_running_; }

 private:
  PausedGuest(kvm::Backend& backend, bool was_running) : backend_(backend), was_running_(was_running) {}
  kvm::Backend& backend_;
  bool was_running_;
};

}  // namespace svedbg::introspect
