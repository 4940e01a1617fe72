// Session handlers of non-stop mode (GDB manual, "Remote Non-Stop"): one
// thread stops, is inspected and resumes while the others run.
//
// QNonStop:1 switches the target to per-thread run control
// (Target::non_stop()). vCont then answers OK at once and each stop is sent
// later, unasked, as a `%Stop:` notification ("Notification Packets"):
// notifications are not acknowledged with '+' and never retransmitted. The
// client acknowledges one with vStopped, which is answered with the next
// stop waiting in the queue, or OK when none is left; a new notification is
// sent only once the queue was empty. `?` reports every stopped thread the
// same way: the first as its reply, the others through vStopped.
#include <algorithm>

#include "gdbstub/errors.hpp"
#include "gdbstub/session.hpp"

namespace svedbg::gdbstub {
namespace {

// "%" + payload + "#" + checksum ("Notification Packets"); run-length
// encoding is left out.
std::string encode_notification(std::string_view payload) {
  std::string framed = encode_packet(payload, false);
  framed.front() = '%';
  return framed;
}

}  // namespace

Session::Reply Session::handle(const req::NonStop& r) {
  if (r.on == non_stop_) return std::string("OK");  // gdb sends QNonStop:0 at every all-stop connect
  NonStopTarget* ns = target_.non_stop();
  if (!ns) return error_reply_text(Error{ENOTSUP, "non-stop mode: this target has no per-thread run control"});
  if (running_) return error_reply(ProtocolError::NotStopped);
  auto st = ns->set_non_stop(r.on);
  if (!st) return error_reply_text(st.error());
  non_stop_ = r.on;
  stop_queue_.clear();
  return std::string("OK");
}

Session::Reply Session::handle(const req::StopAck&) {
  // vStopped outside non-stop mode is a packet we do not serve.
  if (!non_stop_) return std::string{};
  if (!stop_queue_.empty()) stop_queue_.pop_front();  // the one reported last
  if (stop_queue_.empty()) return std::string("OK");
  return stop_reply(stop_queue_.front());
}

Session::Reply Session::handle(const req::CtrlC&) {
  // "vCtrlC": non-stop mode's interrupt, answered OK; the stop (SIGINT) is
  // notified. Outside non-stop mode gdb sends 0x03 instead.
  if (!non_stop_) return std::string{};
  auto st = interrupt_nonstop();
  if (!st) return error_reply_text(st.error());
  return std::string("OK");
}

Status Session::interrupt_nonstop() {
  // As a SIGINT that one thread takes: the current thread if it runs,
  // else the first running thread; none running, nothing to do.
  NonStopTarget& ns = *target_.non_stop();
  const ThreadId g = current_g();
  if (ns.thread_running(g)) return ns.stop_thread(g, Signal::Int);
  for (ThreadId t : target_.threads())
    if (ns.thread_running(t)) return ns.stop_thread(t, Signal::Int);
  return {};
}

std::string Session::poll_stop_nonstop() {
  std::string out;
  while (auto stop = target_.poll_stop()) {
    const bool idle = stop_queue_.empty();
    stop_queue_.push_back(*stop);
    // A client still draining the queue gets this one through vStopped.
    if (idle) out += encode_notification("Stop:" + stop_reply(*stop));
  }
  return out;
}

Session::Reply Session::halt_reason_nonstop() {
  // "Remote Non-Stop": `?` replies with one stopped thread and leaves the
  // others for vStopped; OK when every thread runs. The list replaces what
  // was queued. The thread of the last stop reports its reason, the
  // others signal 0.
  stop_queue_.clear();
  NonStopTarget& ns = *target_.non_stop();
  const StopEvent last = target_.last_stop();
  if (last.exited) {
    stop_queue_.push_back(last);
  } else {
    for (ThreadId t : target_.threads()) {
      if (ns.thread_running(t)) continue;
      stop_queue_.push_back(t == last.thread ? last : StopEvent{t, Signal::None});
    }
  }
  if (stop_queue_.empty()) return std::string("OK");
  return stop_reply(stop_queue_.front());
}

void Session::drop_queued_stops(ThreadId tid) {
  // A thread resumed before the client collected its stop: that stop is
  // stale. The head stays: it was reported and awaits its vStopped.
  if (stop_queue_.size() < 2) return;
  auto first = std::next(stop_queue_.begin());
  stop_queue_.erase(std::remove_if(first, stop_queue_.end(), [tid](const StopEvent& e) { return e.thread == tid; }),
                    stop_queue_.end());
}

Session::Reply Session::vcont_nonstop(std::span<const ResumeAction> actions) {
  // "vCont packet": each thread takes its leftmost matching action. In
  // non-stop mode the reply is OK at once and each stop is notified; `t`
  // stops a running thread with signal 0 and is a no-op on a stopped one
  // (no stop is reported for it), `c`/`s` resume a stopped thread and leave
  // a running one alone.
  NonStopTarget& ns = *target_.non_stop();
  for (ThreadId t : target_.threads()) {
    auto it = std::find_if(actions.begin(), actions.end(), [t](const auto& a) { return !a.thread || *a.thread == t; });
    if (it == actions.end()) continue;
    const bool runs = ns.thread_running(t);
    Status st;
    if (it->kind == ResumeKind::Stop) {
      if (runs) st = ns.stop_thread(t, Signal::None);
    } else if (!runs) {
      drop_queued_stops(t);
      st = ns.resume_thread(t, it->kind);
    }
    if (!st) return error_reply_text(st.error());
  }
  return std::string("OK");
}

}  // namespace svedbg::gdbstub
