// introspect::MultiHost: the ProcessHost of `svedbg serve --multi`.
//
// Contract: the daemon's guests come from two functions it is given: `list`
// (the candidate VMMs with their owners: kvm/scan's `svedbg ps` scan, or the
// one simulated guest) and `open` (a kvm::Backend for one of them: the
// attach backend, as `serve --pid` makes it, or the shared simulated
// guest). attach(pid) opens the backend, builds a GuestTarget over it with
// the daemon's GuestOptions and, when `release_after_create` is set (the
// attach backend), lets the VMM run again exactly as `serve --pid` does
// before its first client, so that Target::attach() stops it. The returned
// process owns both; destroying it destroys the target, then drops the
// backend (the attach backend's destructor lets the VMM go). A guest that
// runs (the simulated one after a detach) is stopped before it is probed.
// A pid that `list` does not name is ESRCH without opening anything.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/result.hpp"
#include "gdbstub/process_host.hpp"
#include "introspect/guest_target.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

struct MultiHostConfig {
  std::function<Result<std::vector<gdbstub::ProcessInfo>>()> list;
  std::function<Result<std::shared_ptr<kvm::Backend>>(long pid)> open;
  GuestOptions guest;
  bool release_after_create = false;
};

class MultiHost final : public gdbstub::ProcessHost {
 public:
  explicit MultiHost(MultiHostConfig config) : config_(std::move(config)) {}
  Result<std::vector<gdbstub::ProcessInfo>> processes() override;
  Result<std::unique_ptr<gdbstub::AttachedProcess>> attach(long pid) override;

 private:
  MultiHostConfig config_;
};

}  // namespace svedbg::introspect
