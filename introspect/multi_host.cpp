#include "introspect/multi_host.hpp"

#include <algorithm>
#include <chrono>

#include "introspect/paused_guest.hpp"

namespace svedbg::introspect {
namespace {

// A guest attached for one client: the target is destroyed before the
// backend it uses (member order).
class AttachedGuest final : public gdbstub::AttachedProcess {
 public:
  AttachedGuest(std::shared_ptr<kvm::Backend> backend, std::unique_ptr<GuestTarget> target)
      : backend_(std::move(backend)), target_(std::move(target)) {}
  gdbstub::Target& target() override { return *target_; }

 private:
  std::shared_ptr<kvm::Backend> backend_;
  std::unique_ptr<GuestTarget> target_;
};

}  // namespace

Result<std::vector<gdbstub::ProcessInfo>> MultiHost::processes() { return config_.list(); }

Result<std::unique_ptr<gdbstub::AttachedProcess>> MultiHost::attach(long pid) {
  auto rows = config_.list();
  if (!rows) return rows.error();
  if (std::none_of(rows->begin(), rows->end(), [pid](const auto& p) { return p.pid == pid; }))
    return make_error(ESRCH, "pid {} is not a KVM VMM", pid);
  auto backend = config_.open(pid);
  if (!backend) return backend.error();
  // A guest left running by the previous client (the simulated guest lives
  // on between attaches) is stopped before its vCPUs are probed: a running
  // vCPU's registers cannot be read (EBUSY), as under KVM_RUN.
  if (kvm::RunControl* run = (*backend)->run_control()) {
    auto was_running = stop_all_vcpus((*backend)->name(), *run, std::chrono::seconds(5));
    if (!was_running) return was_running.error();
    if (*was_running) (void)run->poll_stop();  // the stop this interrupt caused
  }
  auto target = GuestTarget::create(**backend, config_.guest);
  if (!target) return target.error();
  // As `serve --pid`: the VMM runs until the client's Target::attach().
  if (config_.release_after_create) (*backend)->detach();
  return std::unique_ptr<gdbstub::AttachedProcess>(
      std::make_unique<AttachedGuest>(std::move(*backend), std::move(*target)));
}

}  // namespace svedbg::introspect
