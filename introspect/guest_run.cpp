// GuestTarget (guest_target.hpp): attach, run control, breakpoints and
// stops, detach and kill.
#include "introspect/guest_target.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "introspect/paused_guest.hpp"
#include "introspect/guest_target_detail.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

Status GuestTarget::attach() {
  cache_.invalidate();
  // Each client gets the mode asked for until its qSupported says otherwise.
  effective_ = options_.tdesc.mode == TdescVl::Mode::Effective;
  effective_refused_.clear();
  // Like gdbserver after attaching: report SIGTRAP on the first thread.
  last_stop_ = StopEvent{1, Signal::Trap};
  leave_non_stop();  // a previous client's mode does not carry over
  // All-stop: every vCPU stops before the client's first request that
  // needs them (settle()); the handshake is answered before, at once.
  attach_stop_.begin(run_);
  return {};
}

Status GuestTarget::settle() {
  if (!attach_stop_.pending()) return {};
  auto r = attach_stop_.settle(backend_.name(), std::chrono::seconds(5));
  if (!r) {
    const std::string line = fmt::format("attach: {}", r.error().message);
    if (options_.log)
      options_.log(line);
    else
      std::fprintf(stderr, "svedbg: %s\n", line.c_str());
    return r.error();
  }
  // The guest is gone: every client hears so (an X reply to `?`).
  if (*r) last_stop_ = to_stop(**r);
  return {};
}

void GuestTarget::client_features(std::span<const std::string> features) {
  // gdb announces qRelocInsn+ (tracepoint relocation; gdb-multiarch 13.1
  // does), lldb does not (lldb 14.0.6). gdb lays out the `g` packet from the
  // description it read at connect and refuses a shorter one ("Truncated
  // register N in remote 'g' packet", gdb 13.1, tests/e2e/
  // test_gdb_sve_ext.py), so per-thread sizes would break every thread whose
  // VL differs: serve it the Max description instead.
  if (options_.tdesc.mode != TdescVl::Mode::Effective) return;
  const bool gdb = std::ranges::find(features, std::string("qRelocInsn+")) != features.end();
  effective_ = !gdb;
  effective_refused_.clear();
  if (!gdb) return;
  desc_vq_ = max_vq_;
  effective_refused_ = fmt::format(
      "--tdesc-vl effective is for lldb; this client is gdb (qSupported has qRelocInsn+), which cannot resize "
      "registers of a remote target: serving the largest enabled VL ({} bits) instead; $vg tells each thread's VL",
      max_vq_ * 128);
  if (options_.log)
    options_.log(effective_refused_);
  else
    std::fprintf(stderr, "svedbg: %s\n", effective_refused_.c_str());
}

Status GuestTarget::resume(std::span<const gdbstub::ResumeAction> actions) {
  if (auto st = settle(); !st) return st;
  if (!run_) return make_error(EPERM, "the {} target cannot run (it offers no run control)", backend_.name());
  std::vector<unsigned> step;
  bool others_run = false;
  for (const auto& a : actions) {
    if (a.kind == ResumeKind::Stop) continue;  // all-stop: vCPUs are stopped already
    if (!a.thread) {
      if (a.kind == ResumeKind::Continue) {
        others_run = true;
      } else {
        for (unsigned v = 0; v < backend_.vcpu_count(); ++v)
          if (std::find(step.begin(), step.end(), v) == step.end()) step.push_back(v);
      }
      continue;
    }
    auto v = vcpu_of(*a.thread);
    if (!v) return v.error();
    if (a.kind == ResumeKind::Step) {
      if (std::find(step.begin(), step.end(), *v) == step.end()) step.push_back(*v);
    } else {
      others_run = true;  // a per-thread continue in all-stop resumes the guest
    }
  }
  step_irq_.arm(cache_, backend_, step);  // steps that step: IRQ/FIQ masked (step_irq.hpp)
  cache_.invalidate();
  auto st = apply_guest_debug();
  if (st) st = run_->resume(step, others_run);
  if (!st) step_irq_.finish(cache_);  // nothing ran: the guest's own I/F back
  return st;
}

void GuestTarget::interrupt() {
  if (run_) run_->interrupt();
}

StopEvent GuestTarget::to_stop(const kvm::BackendStop& s) {
  std::uint64_t pc = 0;
  if (auto raw = cache_.get(s.vcpu, kvm::core_pc())) pc = load_u64(**raw);
  return breakpoints_.classify(s, pc);
}

Breakpoints::ReadMemory GuestTarget::memory_reader() {
  return [this](std::uint64_t addr, std::size_t len) { return read_memory(memory_thread(), addr, len); };
}

Breakpoints::WriteMemory GuestTarget::memory_writer() {
  // Breakpoint bytes bypass --read-only's memory check: inserting was
  // already refused in read-only mode, and restoring original bytes must
  // always be possible.
  return
      [this](std::uint64_t addr, std::span<const std::byte> data) { return write_guest(memory_thread(), addr, data); };
}

Status GuestTarget::insert_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  if (auto st = settle(); !st) return st;
  if (!run_ || !run_->debug_caps().guest_debug)
    return make_error(EOPNOTSUPP, "{}: breakpoints need guest debug support, which this backend lacks",
                      backend_.name());
  if (options_.read_only && type == gdbstub::BreakpointType::Software)
    return make_error(EROFS, "software breakpoint at {:#x} not inserted: svedbg runs --read-only", addr);
  auto st = breakpoints_.insert(type, addr, kind, memory_reader(), memory_writer());
  cache_.invalidate();  // memory or debug state changed
  if (st) st = apply_debug_now();
  return st;
}

Status GuestTarget::remove_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  if (auto st = settle(); !st) return st;
  auto st = breakpoints_.remove(type, addr, kind, memory_writer());
  cache_.invalidate();
  if (st) st = apply_debug_now();
  return st;
}

Status GuestTarget::apply_guest_debug() {
  // KVM_SET_GUEST_DEBUG only where it changes, and only while stopped.
  if (!run_) return {};
  const kvm::GuestDebug want = wanted_debug();
  for (unsigned v = 0; v < applied_debug_.size(); ++v) {
    if (applied_debug_[v] == want) continue;
    // A running vCPU gets it when resumed, or at once where the backend can.
    if (non_stop_ && !check_stopped(v) && !vcpu_control()->debug_while_running()) continue;
    auto st = run_->set_guest_debug(v, want);
    if (!st) return st;
    applied_debug_[v] = want;
  }
  return {};
}

void GuestTarget::clear_debug_state() {
  // Detach and kill leave no breakpoint bytes and no debug setting behind.
  (void)breakpoints_.remove_all(memory_writer());
  (void)apply_guest_debug();
}

std::optional<StopEvent> GuestTarget::poll_stop() {
  (void)settle();
  if (!run_) return std::nullopt;
  auto s = run_->poll_stop();
  if (!s) return std::nullopt;
  cache_.invalidate();
  if (s->reason != kvm::StopReason::Exited) step_irq_.finish(cache_);
  if (s->reason != kvm::StopReason::Exited && s->vcpu < backend_.vcpu_count()) prefetch_stop_registers(s->vcpu);
  last_stop_ = to_stop(*s);
  if (non_stop_ && s->reason == kvm::StopReason::Interrupted && s->vcpu < stop_signal_.size()) {
    // vCont;t reports signal 0, vCtrlC SIGINT ("vCont packet", "vCtrlC").
    last_stop_.signal = stop_signal_[s->vcpu];
    stop_signal_[s->vcpu] = Signal::Int;
  }
  return last_stop_;
}

void GuestTarget::set_stop_notifier(std::function<void()> notify) {
  if (run_) run_->set_stop_notifier(std::move(notify));
}

StopEvent GuestTarget::last_stop() {
  (void)settle();
  return last_stop_;
}

Detached GuestTarget::detach() {
  // A client that leaves before any request needed the vCPUs never
  // stopped them: nothing of its own to undo.
  if (attach_stop_.pending()) {
    attach_stop_.cancel();
    cache_.invalidate();
    return backend_.detach();
  }
  // Removing breakpoints needs the vCPUs stopped (their registers translate
  // the addresses and KVM's vCPU ioctls wait for KVM_RUN): a client that
  // drops while the guest runs gets it stopped first; the backend's
  // detach() lets it run on.
  leave_non_stop();
  if (run_ && run_->running() && stop_all_vcpus(backend_.name(), *run_, std::chrono::seconds(5)))
    (void)run_->poll_stop();
  cache_.invalidate();
  if (step_irq_.armed() && !run_->running()) step_irq_.finish(cache_);  // a step nobody collected
  clear_debug_state();
  cache_.invalidate();
  return backend_.detach();
}

void GuestTarget::kill() {
  (void)settle();
  leave_non_stop();
  step_irq_.forget();
  clear_debug_state();
  cache_.invalidate();
  if (run_) run_->kill();
}

}  // namespace svedbg::introspect
