// One trip into a stopped VMM (see trip.hpp).
#if defined(__aarch64__)

#include "kvm/attach/trip.hpp"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "kvm/attach/inject_batch.hpp"

namespace svedbg::kvm {

namespace {

std::optional<pid_t> pick(ThreadTracker& threads, Trip::Kind kind) {
  for (pid_t c : threads.injection_threads())
    if (kind == Trip::Kind::Call || threads.trap_safe(c)) return c;
  return std::nullopt;
}

}  // namespace

Trip::Trip(const TripParts& parts, Kind kind) : parts_(parts) {
  if (status_ = parts_.threads.check_stopped(); !status_) return;
  const auto tid = pick(parts_.threads, kind);
  if (!tid) {
    status_ =
        kind == Kind::Call
            ? make_error(EAGAIN, "no thread of the VMM is stopped where a system call can be injected")
            : make_error(EAGAIN, "no stopped thread of the VMM can run the batch loop (SIGTRAP blocked or ignored)");
    return;
  }
  tid_ = *tid;
  pinned_.emplace(parts_.colocation, tid_);
  was_ = parts_.threads.thread(tid_)->stop;
  auto sv = parts_.threads.saved_of(tid_);
  if (!sv) {
    status_ = sv.error();
    return;
  }
  saved_ = *sv;
}

Trip::~Trip() {
  if (gone_ || tid_ == 0) return;
  if (!scratch_old_.empty()) (void)parts_.mem.poke(scratch_, scratch_old_.data(), scratch_old_.size());
  if (regs_changed_) ThreadTracker::restore(tid_, saved_);
  if (auto* t = parts_.threads.thread(tid_); t && ran_)
    t->stop = was_ == ThreadTracker::Stop::Event ? ThreadTracker::Stop::Event : ThreadTracker::Stop::SyscallExit;
}

void Trip::finished() {
  ++parts_.counters.trips;
  parts_.cost.count_trip();
}

Trip::Scratch Trip::write_scratch(std::uint64_t addr, std::span<const std::byte> bytes) {
  std::vector<std::byte> old(bytes.size());
  if (!parts_.mem.peek(addr, old.data(), old.size())) return Scratch::Unreadable;
  scratch_ = addr;
  scratch_old_ = std::move(old);
  if (!parts_.mem.poke(addr, bytes.data(), bytes.size())) return Scratch::Unwritable;
  return Scratch::Written;
}

bool Trip::read(std::uint64_t addr, std::span<std::byte> out) const {
  return parts_.mem.peek(addr, out.data(), out.size());
}

Status Trip::set_regs(const user_pt_regs& regs) {
  regs_changed_ = true;
  if (ThreadTracker::set_regs(tid_, regs)) return {};
  const int err = errno;
  return make_error(err, "thread {}: PTRACE_SETREGSET: {}", tid_, std::strerror(err));
}

void Trip::keep_signal(int sig) {
  auto* t = parts_.threads.thread(tid_);
  if (t && !t->pending_sig) t->pending_sig = sig;  // the VMM's signal: delivered on resume, not now
}

// A stop of the single-stepped call: true when it is the step's end (rval
// set), false to step on, EIO when the thread is not where it must be.
Result<bool> Trip::on_step_stop(std::uint64_t svc, int sig, long& rval) {
  user_pt_regs now{};
  const bool have = ThreadTracker::get_regs(tid_, now);
  if (have && now.pc == svc + 4 && sig == SIGTRAP) {
    rval = static_cast<long>(now.regs[0]);
    return true;
  }
  if (!have || (now.pc != svc && now.pc != svc + 4))
    return make_error(EIO, "thread {}: injected ioctl stopped at {:#x}, not at the svc at {:#x}", tid_, now.pc, svc);
  keep_signal(sig);
  return false;
}

Result<long> Trip::run_call(std::uint64_t svc, const user_pt_regs& regs) {
  user_pt_regs r = regs;
  r.pc = svc;
  if (auto s = set_regs(r); !s) return s.error();
  ran_ = true;
  const bool step = parts_.threads.trap_safe(tid_);
  const auto go = [&] { ::ptrace(step ? PTRACE_SINGLESTEP : PTRACE_SYSCALL, tid_, nullptr, nullptr); };
  long rval = 0;
  bool entered = false;
  go();
  for (;;) {
    int st = 0;
    if (!parts_.threads.wait_trip(tid_, st)) {
      gone_ = true;
      return make_error(ESRCH, "the VMM (pid {}) exited during an injected system call", parts_.pid);
    }
    if (!WIFSTOPPED(st)) continue;
    const int sig = WSTOPSIG(st);
    if (step && (st >> 16) == 0 && sig != (SIGTRAP | 0x80)) {
      auto done = on_step_stop(svc, sig, rval);
      if (!done) return done.error();
      if (*done) break;
      go();
      continue;
    }
    if (sig == (SIGTRAP | 0x80)) {
      __ptrace_syscall_info info{};
      if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid_, sizeof info, &info) > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT &&
          entered) {
        rval = info.exit.rval;
        break;
      }
      entered = true;
    } else if ((st >> 16) == 0) {
      keep_signal(sig);
    }
    go();
  }
  finished();
  return rval;
}

Status Trip::run_loop(std::uint64_t cave, const user_pt_regs& regs, const FaultHooks& hooks, std::uint64_t batch) {
  user_pt_regs r = regs;
  r.pc = cave;
  if (auto s = set_regs(r); !s) return s;
  ran_ = true;
  const std::uint64_t brk = cave + batch::kBrkOffset;
  ::ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
  if (hooks.batch_started) hooks.batch_started(parts_.pid, batch);
  for (;;) {
    int st = 0;
    if (!parts_.threads.wait_trip(tid_, st)) {
      gone_ = true;
      return make_error(ESRCH, "the VMM (pid {}) exited during an injected batch of system calls", parts_.pid);
    }
    if (!WIFSTOPPED(st)) continue;
    const int sig = WSTOPSIG(st);
    if ((st >> 16) != 0 || sig == (SIGTRAP | 0x80)) {  // an event stop (e.g. a group stop): run on
      ::ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
      continue;
    }
    user_pt_regs now{};
    siginfo_t si{};
    const bool have_pc = ThreadTracker::get_regs(tid_, now);
    const bool from_kernel = ::ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &si) == 0 && si.si_code > 0;
    if (sig == SIGTRAP && have_pc && now.pc == brk && from_kernel) break;  // the loop's end
    if (from_kernel && have_pc && now.pc >= cave && now.pc < cave + 4 * batch::kLoopCode.size() &&
        (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGTRAP || sig == SIGFPE))
      return make_error(EFAULT, "the batch loop faulted in the VMM (signal {} at pc {:#x})", sig, now.pc);
    keep_signal(sig);
    ::ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
  }
  finished();
  return {};
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
