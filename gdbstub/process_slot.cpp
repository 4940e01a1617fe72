#include "gdbstub/process_slot.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace svedbg::gdbstub {

ProcessSlot::ProcessSlot(ProcessHost& host, Peer peer, const MultiOptions& options, HolderTable& holders,
                         std::function<void(const std::string&)> log)
    : host_(host), peer_(std::move(peer)), options_(options), holders_(holders), log_(std::move(log)) {}

ProcessSlot::~ProcessSlot() { detach_process(); }

Error ProcessSlot::no_process() const {
  return Error{ESRCH, "no process attached: `attach PID` first (`info os processes` lists the VMMs you may debug)"};
}

Result<std::vector<ProcessInfo>> ProcessSlot::visible_processes() {
  auto all = host_.processes();
  if (!all) return all.error();
  std::vector<ProcessInfo> out;
  for (auto& p : *all)
    if (may_debug(options_.policy, peer_, p.uid, fmt::format("pid {}", p.pid))) out.push_back(std::move(p));
  return out;
}

std::string ProcessSlot::holder(long pid) const {
  auto it = holders_.find(pid);
  return it == holders_.end() ? std::string{} : it->second;
}

Result<StopEvent> ProcessSlot::attach_process(long pid) {
  auto stop = try_attach(pid);
  if (!stop) log_(fmt::format("{}: attach {} refused: {}", peer_.describe(), pid, stop.error().message));
  return stop;
}

Result<StopEvent> ProcessSlot::try_attach(long pid) {
  if (process_) return make_error(EBUSY, "this session already debugs pid {}: detach first", pid_);
  auto all = host_.processes();
  if (!all) return all.error();
  auto it = std::find_if(all->begin(), all->end(), [pid](const ProcessInfo& p) { return p.pid == pid; });
  if (it == all->end()) return make_error(ESRCH, "pid {} is not a KVM VMM this daemon can debug", pid);
  if (auto d = may_debug(options_.policy, peer_, it->uid, fmt::format("pid {}", pid)); !d)
    return Error{EPERM, d.reason};
  if (auto held = holder(pid); !held.empty()) return make_error(EBUSY, "pid {} is already attached by {}", pid, held);
  auto process = host_.attach(pid);
  if (!process) return process.error();
  Target& t = (*process)->target();
  if (!features_.empty()) t.client_features(features_);
  if (auto st = t.attach(); !st) return st.error();  // the guest stops here
  if (notify_) t.set_stop_notifier(notify_);
  process_ = std::move(*process);
  pid_ = pid;
  holders_[pid] = peer_.describe();
  log_(fmt::format("{} attached pid {}", peer_.describe(), pid));
  return process_->target().last_stop();
}

Detached ProcessSlot::detach_process() {
  if (!process_) return Detached::NeverRuns;
  Target& t = process_->target();
  t.set_stop_notifier({});
  const Detached d = t.detach();
  process_.reset();  // lets the VMM go entirely
  holders_.erase(pid_);
  log_(fmt::format("{} detached pid {}", peer_.describe(), pid_));
  pid_ = 0;
  return d;
}

Status ProcessSlot::kill_process(std::optional<long> pid) {
  if (!process_ || (pid && *pid != pid_)) return no_process();
  if (!options_.allow_kill) {
    Error e = make_error(EPERM,
                         "kill refused: this svedbg daemon does not kill VMMs (its operator may allow it with "
                         "--allow-kill); pid {} stays attached, `detach` leaves it running",
                         pid_);
    log_(fmt::format("{}: {}", peer_.describe(), e.message));
    return e;
  }
  Target& t = process_->target();
  t.set_stop_notifier({});
  t.kill();
  log_(fmt::format("{} killed pid {}", peer_.describe(), pid_));
  process_.reset();
  holders_.erase(pid_);
  pid_ = 0;
  return {};
}

// ---- Target, forwarded ------------------------------------------------------

std::vector<ThreadId> ProcessSlot::threads() {
  return process_ ? process_->target().threads() : std::vector<ThreadId>{};
}
bool ProcessSlot::thread_alive(ThreadId tid) { return process_ && process_->target().thread_alive(tid); }
std::string ProcessSlot::thread_extra_info(ThreadId tid) {
  return process_ ? process_->target().thread_extra_info(tid) : std::string{};
}
unsigned ProcessSlot::thread_cpu(ThreadId tid) { return process_ ? process_->target().thread_cpu(tid) : 0; }
Result<std::string> ProcessSlot::features_document(std::string_view annex) {
  if (!process_) return no_process();
  return process_->target().features_document(annex);
}
Result<Bytes> ProcessSlot::read_register(ThreadId tid, unsigned regnum) {
  if (!process_) return no_process();
  return process_->target().read_register(tid, regnum);
}
Status ProcessSlot::write_register(ThreadId tid, unsigned regnum, std::span<const std::byte> data) {
  if (!process_) return no_process();
  return process_->target().write_register(tid, regnum, data);
}
Result<Bytes> ProcessSlot::read_all_registers(ThreadId tid) {
  if (!process_) return no_process();
  return process_->target().read_all_registers(tid);
}
Status ProcessSlot::write_all_registers(ThreadId tid, std::span<const std::byte> data) {
  if (!process_) return no_process();
  return process_->target().write_all_registers(tid, data);
}
std::vector<unsigned> ProcessSlot::expedited_registers(ThreadId tid) {
  return process_ ? process_->target().expedited_registers(tid) : std::vector<unsigned>{};
}
Result<Bytes> ProcessSlot::read_memory(ThreadId tid, std::uint64_t addr, std::size_t len) {
  if (!process_) return no_process();
  return process_->target().read_memory(tid, addr, len);
}
Status ProcessSlot::write_memory(ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) {
  if (!process_) return no_process();
  return process_->target().write_memory(tid, addr, data);
}
Status ProcessSlot::insert_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  if (!process_) return no_process();
  return process_->target().insert_breakpoint(type, addr, kind);
}
Status ProcessSlot::remove_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  if (!process_) return no_process();
  return process_->target().remove_breakpoint(type, addr, kind);
}
// A client's first packet: nothing to stop until it attaches a process.
Status ProcessSlot::attach() { return process_ ? process_->target().attach() : Status{}; }
void ProcessSlot::client_features(std::span<const std::string> features) {
  features_.assign(features.begin(), features.end());
  if (process_) process_->target().client_features(features);
}
Status ProcessSlot::resume(std::span<const ResumeAction> actions) {
  if (!process_) return no_process();
  return process_->target().resume(actions);
}
void ProcessSlot::interrupt() {
  if (process_) process_->target().interrupt();
}
std::optional<StopEvent> ProcessSlot::poll_stop() { return process_ ? process_->target().poll_stop() : std::nullopt; }
void ProcessSlot::set_stop_notifier(std::function<void()> notify) {
  notify_ = std::move(notify);
  if (process_) process_->target().set_stop_notifier(notify_);
}
StopEvent ProcessSlot::last_stop() {
  if (process_) return process_->target().last_stop();
  StopEvent none;
  none.exited = true;
  none.signal = Signal::None;
  return none;
}
Result<std::string> ProcessSlot::monitor(std::string_view command) {
  if (!process_) return no_process();
  return process_->target().monitor(command);
}
Detached ProcessSlot::detach() { return detach_process(); }
// `k` from a plain `target remote` client: refused (logged) unless allowed.
void ProcessSlot::kill() { (void)kill_process(std::nullopt); }

}  // namespace svedbg::gdbstub
