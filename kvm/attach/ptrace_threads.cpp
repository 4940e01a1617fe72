// The ptrace state machine over an attached VMM's threads (see ptrace_threads.hpp).
#if defined(__aarch64__)

#include "kvm/attach/ptrace_threads.hpp"

#include <elf.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "kvm/debug_exit.hpp"
#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {

namespace {
constexpr std::uint32_t kSvc0 = 0xd4000001;

// State R in /proc/PID/task/TID/stat (proc(5): the field after the comm,
// which ends at the last ')').
bool thread_running(pid_t pid, pid_t tid) {
  const std::string stat = read_text(fmt::format("/proc/{}/task/{}/stat", pid, tid));
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'R';
}
}  // namespace

ThreadTracker::ThreadTracker(pid_t pid, const std::vector<VmmVcpu>& vcpus, const VmmMemory& mem, StopWatcher& watcher,
                             LogFn log, std::function<void()> on_exit)
    : pid_(pid), vcpus_(vcpus), mem_(mem), watcher_(watcher), log_(std::move(log)), on_exit_(std::move(on_exit)) {}

Status ThreadTracker::check_stopped() const {
  if (state_ == State::Stopped) return {};
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (non_stop_ && state_ == State::Running)
    for (const auto& [tid, t] : threads_)
      if (t.stop != Stop::Running) return {};  // a stopped vCPU thread takes the trips
  return make_error(EBUSY, "the VMM is running; registers are read while it is stopped");
}

ThreadTracker::Thread* ThreadTracker::thread(pid_t tid) {
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : &it->second;
}

std::optional<pid_t> ThreadTracker::thread_of_fd(int fd) const {
  std::optional<pid_t> out;
  for (const auto& [tid, f] : thread_fd_)
    if (f == fd) out = tid;
  return out;
}

std::optional<unsigned> ThreadTracker::vcpu_of_fd(int fd) const {
  for (unsigned i = 0; i < vcpus_.size(); ++i)
    if (vcpus_[i].fd == fd) return i;
  return std::nullopt;
}

std::optional<unsigned> ThreadTracker::vcpu_of_thread(pid_t tid) const {
  auto it = thread_fd_.find(tid);
  return it == thread_fd_.end() ? std::nullopt : vcpu_of_fd(it->second);
}

std::optional<std::uint32_t> ThreadTracker::exit_reason(unsigned v) const {
  std::uint32_t r = 0;
  if (vcpus_[v].run == 0 || !mem_.peek(vcpus_[v].run + offsetof(kvm_run, exit_reason), &r, sizeof r))
    return std::nullopt;
  return r;
}

bool ThreadTracker::get_regs(pid_t tid, user_pt_regs& r) {
  iovec iov{&r, sizeof r};
  return ::ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) == 0;
}

bool ThreadTracker::set_regs(pid_t tid, const user_pt_regs& r) {
  iovec iov{const_cast<user_pt_regs*>(&r), sizeof r};
  return ::ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) == 0;
}

// The vCPU whose KVM_RUN thread `tid` just left with EINTR when no
// syscall-entry stop told: the one vCPU not claimed by another thread whose
// kvm_run says KVM_EXIT_INTR (threads that may be in KVM_RUN on an unknown
// vCPU are stopped one at a time: seize_and_begin_stop()). Linux 6.1 on
// arm64 shows no other trace of the fd at that stop: /proc/TID/syscall
// prints x0 (-EINTR) as the first argument, not orig_x0.
std::optional<int> ThreadTracker::vcpu_fd_in_eintr(pid_t tid) const {
  std::vector<int> candidates;
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    bool claimed = false;
    for (const auto& [t, f] : thread_fd_) claimed |= (t != tid && f == vcpus_[v].fd && threads_.count(t));
    if (!claimed && exit_reason(v) == std::optional<std::uint32_t>(KVM_EXIT_INTR)) candidates.push_back(vcpus_[v].fd);
  }
  if (candidates.size() == 1) return candidates[0];
  log_(
      fmt::format("thread {} left KVM_RUN but its vCPU cannot be told ({} candidates); the VMM sees EINTR "
                  "from KVM_RUN once",
                  tid, candidates.size()));
  return std::nullopt;
}

// A thread stopped right after an interrupted KVM_RUN: rewind it so that the
// VMM re-enters KVM_RUN on resume. `fd`: known from a syscall-entry stop, or
// -1: then the thread's learned fd, else the one unclaimed vCPU whose
// kvm_run says KVM_EXIT_INTR.
void ThreadTracker::maybe_rewind(pid_t tid, int fd) {
  user_pt_regs r{};
  if (!get_regs(tid, r)) return;
  if (r.regs[8] != kArm64NrIoctl || r.regs[1] != kKvmRun || r.regs[0] != static_cast<std::uint64_t>(-EINTR)) return;
  std::uint32_t insn = 0;
  if (!mem_.peek(r.pc - 4, &insn, sizeof insn) || insn != kSvc0) return;
  if (fd < 0) {
    if (auto it = thread_fd_.find(tid); it != thread_fd_.end()) fd = it->second;
  }
  if (fd < 0) {
    auto found = vcpu_fd_in_eintr(tid);
    if (!found) return;
    fd = *found;
  }
  thread_fd_[tid] = fd;
  r.pc -= 4;
  r.regs[0] = static_cast<std::uint64_t>(fd);
  if (!set_regs(tid, r)) log_(fmt::format("thread {}: cannot rewind KVM_RUN: {}", tid, std::strerror(errno)));
}

bool ThreadTracker::all_stopped() const {
  for (const auto& [tid, t] : threads_)
    if (t.stop == Stop::Running) return false;
  return true;
}

void ThreadTracker::cont(pid_t tid, Thread& t) {
  int sig = 0;
  if (t.pending_sig) {
    if (t.stop == Stop::Signal)
      sig = t.pending_sig;
    else
      ::syscall(SYS_tgkill, pid_, tid, t.pending_sig);  // comes back as a signal stop, passed on then
    t.pending_sig = 0;
  }
  t.stop = Stop::Running;
  t.held = false;
  ::ptrace(trace_syscalls_ ? PTRACE_SYSCALL : PTRACE_CONT, tid, nullptr,
           reinterpret_cast<void*>(static_cast<long>(sig)));
}

void ThreadTracker::begin_stop() {
  state_ = State::Stopping;
  stop_began_ = std::chrono::steady_clock::now();
  for (auto& [tid, t] : threads_)
    if (t.stop == Stop::Running && !t.serial) ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
  next_serial();
}

// The threads seize_and_begin_stop() stops one at a time: interrupts the
// next once the previous one stopped (or is gone).
void ThreadTracker::next_serial() {
  while (!serial_.empty()) {
    const pid_t tid = serial_.front();
    auto it = threads_.find(tid);
    if (it == threads_.end() || (it->second.serial_sent && it->second.stop != Stop::Running)) {
      if (it != threads_.end()) it->second.serial = it->second.serial_sent = false;
      serial_.pop_front();
      continue;
    }
    if (!it->second.serial_sent) {
      it->second.serial_sent = true;
      if (it->second.stop == Stop::Running) ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    }
    return;
  }
}

void ThreadTracker::mark_stopped(pid_t tid, Thread& t, Stop how) {
  t.stop = how;
  if (!first_vcpu_) first_vcpu_ = vcpu_of_thread(tid);
}

void ThreadTracker::run_on_or_stop(pid_t tid, Thread& t, bool run_on, Stop how) {
  if (run_on)
    cont(tid, t);
  else
    mark_stopped(tid, t, how);
}

void ThreadTracker::complete_if_stopped() {
  if (state_ != State::Stopping || !all_stopped()) return;
  state_ = State::Stopped;
  last_stop_time_ = std::chrono::steady_clock::now() - stop_began_;
  pending_ = reason_ ? *reason_ : BackendStop{first_vcpu_.value_or(0), StopReason::Interrupted, 0, 0};
  reason_.reset();
  watcher_.arm(false);
}

void ThreadTracker::on_exited(pid_t tid) {
  threads_.erase(tid);
  thread_fd_.erase(tid);
  if (state_ == State::Exited) return;  // already reported
  if (tid == pid_ || threads_.empty()) {
    state_ = State::Exited;
    if (on_exit_) on_exit_();
    threads_.clear();
    pending_ = BackendStop{0, StopReason::Exited, 0, 0};
    log_(fmt::format("the VMM (pid {}) exited", pid_));
    watcher_.arm(false);
  }
}

// The debugger's exit from KVM_RUN on vCPU v: kept from the VMM (rewound),
// and everyone stops.
void ThreadTracker::on_debug_exit(pid_t tid, Thread& t, unsigned v, int fd) {
  std::uint32_t hsr = 0;
  std::uint64_t far = 0;
  const auto run = vcpus_[v].run;
  (void)mem_.peek(run + offsetof(kvm_run, debug.arch.hsr), &hsr, sizeof hsr);
  (void)mem_.peek(run + offsetof(kvm_run, debug.arch.far), &far, sizeof far);
  BackendStop s = debug_exit_stop(v, hsr, far, /*stepping=*/false);
  user_pt_regs r{};
  if (get_regs(tid, r)) {
    r.pc -= 4;
    r.regs[0] = static_cast<std::uint64_t>(fd);
    (void)set_regs(tid, r);
  }
  mark_stopped(tid, t, Stop::SyscallExit);
  if (non_stop_ && state_ == State::Running) {
    // Non-stop: only this vCPU stops, and reports its own debug exit.
    t.held = true;
    if (v < ns_wanted_.size()) ns_wanted_[v] = false;
    ns_stops_.push_back(s);
    return;
  }
  if (!reason_ || reason_->reason == StopReason::Interrupted) reason_ = s;
  if (state_ == State::Running) begin_stop();
}

void ThreadTracker::on_syscall_stop(pid_t tid, Thread& t, bool run_on) {
  __ptrace_syscall_info info{};
  if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0)
    return run_on_or_stop(tid, t, run_on, Stop::Event);
  if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
    t.entry_kvm_run = info.entry.nr == static_cast<std::uint64_t>(kArm64NrIoctl) && info.entry.args[1] == kKvmRun;
    if (t.entry_kvm_run && vcpu_of_fd(static_cast<int>(info.entry.args[0])))
      thread_fd_[tid] = static_cast<int>(info.entry.args[0]);
    return run_on_or_stop(tid, t, run_on, Stop::SyscallEntry);
  }
  // Exit stop.
  auto fd_it = thread_fd_.find(tid);
  const auto v = t.entry_kvm_run && fd_it != thread_fd_.end() ? vcpu_of_fd(fd_it->second) : std::nullopt;
  t.entry_kvm_run = false;
  if (v && info.exit.rval == 0 && exit_reason(*v) == std::optional<std::uint32_t>(KVM_EXIT_DEBUG))
    return on_debug_exit(tid, t, *v, fd_it->second);
  if (v && info.exit.rval == -EINTR && !run_on) {
    mark_stopped(tid, t, Stop::SyscallExit);
    maybe_rewind(tid, fd_it->second);
    return;
  }
  run_on_or_stop(tid, t, run_on, Stop::SyscallExit);
}

void ThreadTracker::handle(pid_t tid, int st) {
  forget_thread_state();  // a thread's stop changed: choose and read afresh
  if (WIFEXITED(st) || WIFSIGNALED(st)) return on_exited(tid);
  if (!WIFSTOPPED(st)) return;
  auto& t = threads_[tid];  // a new clone child may report before its parent's event
  const bool run_on = state_ == State::Running && !t.held;
  const int sig = WSTOPSIG(st);
  const int event = st >> 16;
  if (event == PTRACE_EVENT_CLONE) {
    unsigned long child = 0;
    ::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child);
    threads_.try_emplace(static_cast<pid_t>(child));
    return run_on_or_stop(tid, t, run_on, Stop::Event);
  }
  if (event == PTRACE_EVENT_STOP) {
    if (run_on) return cont(tid, t);  // a new thread's first stop, or an interrupt that came late
    mark_stopped(tid, t, Stop::Event);
    return maybe_rewind(tid, -1);
  }
  if (sig == (SIGTRAP | 0x80)) return on_syscall_stop(tid, t, run_on);
  // Signal-delivery stop: the VMM's own signal.
  t.pending_sig = sig;
  t.stop = Stop::Signal;
  run_on_or_stop(tid, t, run_on, Stop::Signal);
}

void ThreadTracker::pump() {
  if (state_ == State::Detached || state_ == State::Exited) return;
  bool gone = false;
  for (const auto& [tid, st] : std::exchange(deferred_, {}))
    if (!gone) gone = !dispatch(tid, st);
  while (!gone) {
    int st = 0;
    const pid_t tid = ::waitpid(-1, &st, __WALL | WNOHANG);
    if (tid <= 0) break;
    gone = !dispatch(tid, st);
  }
  if (state_ == State::Stopping) next_serial();
  complete_if_stopped();
  if (non_stop_) collect_vcpu_stops();
}

// One waitpid() event; false once the VMM is gone.
bool ThreadTracker::dispatch(pid_t tid, int st) {
  if (!threads_.count(tid) && !WIFSTOPPED(st)) {
    if (tid == pid_) on_exited(tid);
  } else {
    handle(tid, st);
  }
  return state_ != State::Exited;
}

// The next event of thread `tid` during a trip, into `st`; false: the
// thread is gone (its exit recorded with on_exited()) or the VMM is.
bool ThreadTracker::wait_trip(pid_t tid, int& st) {
  for (;;) {
    const pid_t w = ::waitpid(-1, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    const bool died = w < 0 || WIFEXITED(st) || WIFSIGNALED(st);
    if (w < 0 || w == tid) {
      if (!died) return true;
      on_exited(tid);
      return false;
    }
    if (died)
      on_exited(w);
    else
      deferred_.emplace_back(w, st);
    if (state_ == State::Exited) return false;
  }
}

// Waits until `pred` holds (pumping events) or `ms` pass.
template <typename Pred>
bool ThreadTracker::wait_until(Pred pred, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    pump();
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// PTRACE_SEIZE on every thread, until no new one shows up.
Status ThreadTracker::seize_all() {
  const unsigned long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD;
  for (bool more = true; more;) {
    more = false;
    for (pid_t tid : list_tasks(pid_)) {
      if (threads_.count(tid)) continue;
      if (::ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(opts)) != 0) {
        const int err = errno;
        if (err == ESRCH) continue;  // the thread just exited
        if (threads_.empty()) {
          state_ = State::Detached;
          if (err == EPERM)
            return make_error(EPERM, "cannot attach to pid {} ({}): {}", pid_, comm_of(pid_),
                              ptrace_denied_reason(pid_));
          return make_error(err, "cannot attach to pid {}: PTRACE_SEIZE: {}", pid_, std::strerror(err));
        }
        log_(fmt::format("thread {}: PTRACE_SEIZE: {}", tid, std::strerror(err)));
        continue;
      }
      threads_[tid] = Thread{};
      more = true;
    }
  }
  if (threads_.empty()) {
    state_ = State::Detached;
    return make_error(ESRCH, "pid {} has no threads left to attach to", pid_);
  }
  return {};
}

Status ThreadTracker::seize_and_stop() {
  if (auto s = seize_and_begin_stop(); !s) return s;
  // 5 s for the threads stopped at once, and 5 s for each stopped alone.
  const int ms = 5000 * static_cast<int>(1 + serial_.size());
  if (!wait_until([&] { return state_ != State::Stopping; }, ms))
    return make_error(ETIMEDOUT, "pid {}: not every thread stopped within {} s", pid_, ms / 1000);
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) exited while svedbg attached", pid_);
  return {};
}

Status ThreadTracker::seize_and_begin_stop() {
  state_ = State::Stopping;
  reason_.reset();
  pending_.reset();
  first_vcpu_.reset();
  threads_.clear();
  forget_thread_state();
  tracer_ = static_cast<pid_t>(::syscall(SYS_gettid));
  if (auto s = seize_all(); !s) return s;
  // Every thread whose vCPU is known or that is not inside KVM_RUN at
  // once: each stop costs the thread's own way out of the guest and its
  // turn on a CPU, and with many vCPU threads on few CPUs those turns
  // overlap only when the interrupts do. A thread that runs (possibly in
  // KVM_RUN on a vCPU not learned yet) is stopped alone, after the others
  // (pump() interrupts the next once the last stopped), so that the one
  // unclaimed vCPU whose kvm_run says KVM_EXIT_INTR is its own. Threads
  // created meanwhile (TRACECLONE) stop by themselves.
  serial_.clear();
  for (auto& [tid, t] : threads_) {
    if (thread_fd_.count(tid)) continue;
    // A running thread's syscall file costs a wait for it to be off its
    // CPU (wait_task_inactive) and says only "running": ask stat first.
    if (thread_running(pid_, tid)) {
      serial_.push_back(tid);
      t.serial = true;
      continue;
    }
    auto call = parse_syscall(read_text(fmt::format("/proc/{}/task/{}/syscall", pid_, tid)));
    if (call && call->is_kvm_run() && vcpu_of_fd(static_cast<int>(call->args[0]))) {
      thread_fd_[tid] = static_cast<int>(call->args[0]);  // blocked in KVM_RUN: /proc names its fd
    } else if (!call || call->kind == SyscallState::Kind::Running) {
      serial_.push_back(tid);
      t.serial = true;
    }
  }
  begin_stop();
  return {};
}

bool ThreadTracker::stop_all(int ms) {
  if (state_ != State::Running && state_ != State::Stopping) return true;
  if (state_ == State::Running) begin_stop();
  return wait_until([&] { return state_ != State::Stopping; }, ms);
}

void ThreadTracker::resume(std::span<const unsigned> step, bool others_run, bool trace_syscalls) {
  trace_syscalls_ = trace_syscalls;
  reason_.reset();
  pending_.reset();
  first_vcpu_.reset();
  state_ = State::Running;
  for (auto& [tid, t] : threads_) {
    auto v = vcpu_of_thread(tid);
    if (v && !others_run && std::find(step.begin(), step.end(), *v) == step.end()) {
      t.held = true;  // stays stopped
      continue;
    }
    cont(tid, t);
  }
  watcher_.arm(true);
}

void ThreadTracker::detach_threads() {
  for (auto& [tid, t] : threads_) {
    if (t.stop == Stop::Running) continue;  // the kernel detaches it when svedbg exits
    const int sig = t.stop == Stop::Signal ? t.pending_sig : 0;
    ::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
    if (t.pending_sig && t.stop != Stop::Signal) ::syscall(SYS_tgkill, pid_, tid, t.pending_sig);
  }
  threads_.clear();
  forget_thread_state();
  trace_syscalls_ = false;
  non_stop_ = false;
  preferred_.reset();
  ns_wanted_.clear();
  ns_stops_.clear();
  if (state_ != State::Exited) state_ = State::Detached;
  watcher_.arm(false);
}

void ThreadTracker::new_stop() {
  trap_ok_.clear();
  forget_thread_state();
}

void ThreadTracker::forget_thread_state() {
  inject_candidates_.reset();
  saved_regs_.clear();
}

// Not a thread at a syscall-exit stop whose call returned -ERESTART* (an
// interrupted futex, say): the kernel restarts that call after the stop
// from orig_x0, which an injected call would replace with its own first
// argument. Event stops come after that restart logic, so they are always
// safe; signal-delivery stops come last.
std::vector<pid_t> ThreadTracker::injection_threads() {
  if (inject_candidates_) return *inject_candidates_;
  std::vector<pid_t> events, exits, signals;
  for (const auto& [tid, t] : threads_) {
    if (t.stop == Stop::Event) events.push_back(tid);
    if (t.stop == Stop::SyscallExit) {
      user_pt_regs r{};
      const auto rv = static_cast<std::int64_t>(get_regs(tid, r) ? r.regs[0] : 0);
      if (rv != -512 && rv != -513 && rv != -514 && rv != -516)
        exits.push_back(tid);  // ERESTARTSYS..RESTART_RESTARTBLOCK
    }
    if (t.stop == Stop::Signal) signals.push_back(tid);
  }
  events.insert(events.end(), exits.begin(), exits.end());
  events.insert(events.end(), signals.begin(), signals.end());
  // Non-stop: the vCPU's own stopped thread first (prefer_vcpu()).
  if (auto it = std::find(events.begin(), events.end(), preferred_.value_or(0)); non_stop_ && it != events.end())
    std::rotate(events.begin(), it, it + 1);
  inject_candidates_ = events;
  return events;
}

Result<ThreadTracker::Saved> ThreadTracker::saved_of(pid_t tid) {
  if (auto it = saved_regs_.find(tid); it != saved_regs_.end()) return it->second;
  Saved sv;
  if (!get_regs(tid, sv.regs)) return make_error(errno, "thread {}: PTRACE_GETREGSET: {}", tid, std::strerror(errno));
  iovec nr_iov{&sv.nr, sizeof sv.nr};
  sv.have_nr = ::ptrace(PTRACE_GETREGSET, tid, NT_ARM_SYSTEM_CALL, &nr_iov) == 0;
  saved_regs_[tid] = sv;
  return sv;
}

void ThreadTracker::restore(pid_t tid, Saved& sv) {
  (void)set_regs(tid, sv.regs);
  iovec nr_iov{&sv.nr, sizeof sv.nr};
  if (sv.have_nr) ::ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &nr_iov);
}

bool ThreadTracker::trap_safe(pid_t tid) {
  if (auto it = trap_ok_.find(tid); it != trap_ok_.end()) return it->second;
  const bool ok = sigtrap_safe(read_text(fmt::format("/proc/{}/task/{}/status", pid_, tid)));
  trap_ok_[tid] = ok;
  return ok;
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
