// The attach-by-pid KVM backend (see attach_backend.hpp). arm64 only.
#if defined(__aarch64__)

#include "kvm/attach/attach_backend.hpp"

#include <asm/ptrace.h>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "kvm/attach/code_cave.hpp"
#include "kvm/debug_exit.hpp"
#include "kvm/attach/inject_batch.hpp"
#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"
#include "common/unique_fd.hpp"

namespace svedbg::kvm {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string comm_of(pid_t pid) {
  std::string c = read_text(fmt::format("/proc/{}/comm", pid));
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c.empty() ? "?" : c;
}

long status_field(pid_t pid, std::string_view key) {
  std::istringstream in(read_text(fmt::format("/proc/{}/status", pid)));
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':')
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}

std::string ptrace_denied_reason(pid_t pid) {
  const long tracer = status_field(pid, "TracerPid");
  if (tracer > 0)
    return fmt::format("it is already traced by process {} ({})", tracer, comm_of(static_cast<pid_t>(tracer)));
  std::string scope = read_text("/proc/sys/kernel/yama/ptrace_scope");
  while (!scope.empty() && scope.back() == '\n') scope.pop_back();
  if (scope == "1")
    return "/proc/sys/kernel/yama/ptrace_scope is 1 (only a parent may trace its children): run svedbg with "
           "CAP_SYS_PTRACE (e.g. as root) or set ptrace_scope to 0";
  if (scope == "2")
    return "/proc/sys/kernel/yama/ptrace_scope is 2: only a process with CAP_SYS_PTRACE (e.g. root) may attach";
  if (scope == "3") return "/proc/sys/kernel/yama/ptrace_scope is 3: ptrace attach is disabled until reboot";
  return "no ptrace rights over it: it belongs to another user or is not dumpable; svedbg needs the same uid "
         "or CAP_SYS_PTRACE";
}

std::vector<pid_t> list_tasks(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    out.push_back(static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

constexpr std::uint32_t kSvc0 = 0xd4000001;
static_assert(batch::kKvmGetOneReg == KVM_GET_ONE_REG);

}  // namespace

struct AttachBackend::Impl {
  enum class State { Detached, Stopping, Stopped, Running, Exited };
  enum class Stop { Running, Event, SyscallEntry, SyscallExit, Signal };
  struct Thread {
    Stop stop = Stop::Running;
    int pending_sig = 0;
    bool entry_kvm_run = false;  // last syscall entry was KVM_RUN
    bool held = false;           // kept stopped by resume() (not in `step`)
  };

  AttachBackend& b;
  pid_t tracer = 0;
  State state = State::Detached;
  std::map<pid_t, Thread> threads;
  std::map<pid_t, int> thread_fd;  // learned: thread -> vCPU fd it runs KVM_RUN on
  UniqueFd mem;
  std::uint64_t svc = 0;
  // Fault injection for tests (issue 9), from the environment at attach:
  // SVEDBG_FAULT_INJECT=kill-vmm-in-batch:N sends the VMM SIGKILL right
  // after the Nth run of the batch loop has been started, so that the VMM
  // dies in the middle of a trip. 0: off.
  std::uint64_t kill_vmm_at_batch = 0;
  bool trace_syscalls = false;
  std::optional<BackendStop> reason;   // debug exit that started a stop
  std::optional<BackendStop> pending;  // completed stop for poll_stop()
  std::optional<unsigned> first_vcpu;  // first vCPU thread seen stopped
  std::vector<GuestDebug> applied;     // what KVM has per vCPU

  // Stop watcher.
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false, quit = false;
  std::function<void()> notify;
  std::thread watcher;

  explicit Impl(AttachBackend& backend) : b(backend) {
    watcher = std::thread([this] { watch(); });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(mu);
      quit = true;
    }
    cv.notify_all();
    watcher.join();
  }

  void watch() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return armed || quit; });
      if (quit) return;
      lk.unlock();
      siginfo_t si{};
      const int r = ::waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL);
      lk.lock();
      if (r == 0 && si.si_pid != 0 && armed) {
        armed = false;
        auto n = notify;
        lk.unlock();
        if (n) n();
        lk.lock();
        continue;
      }
      cv.wait_for(lk, std::chrono::milliseconds(2), [&] { return quit; });
    }
  }
  void arm(bool on) {
    {
      std::lock_guard<std::mutex> lk(mu);
      armed = on;
    }
    cv.notify_all();
  }

  std::optional<unsigned> vcpu_of_fd(int fd) const {
    for (unsigned i = 0; i < b.vcpus_.size(); ++i)
      if (b.vcpus_[i].fd == fd) return i;
    return std::nullopt;
  }
  std::optional<unsigned> vcpu_of_thread(pid_t tid) const {
    auto it = thread_fd.find(tid);
    return it == thread_fd.end() ? std::nullopt : vcpu_of_fd(it->second);
  }

  // --- memory of the VMM ------------------------------------------------
  bool peek(std::uint64_t addr, void* out, std::size_t n) const {
    return ::pread(mem.get(), out, n, static_cast<off_t>(addr)) == static_cast<ssize_t>(n);
  }
  bool poke(std::uint64_t addr, const void* in, std::size_t n) const {
    return ::pwrite(mem.get(), in, n, static_cast<off_t>(addr)) == static_cast<ssize_t>(n);
  }
  std::optional<std::uint32_t> exit_reason(unsigned v) const {
    std::uint32_t r = 0;
    if (b.vcpus_[v].run == 0 || !peek(b.vcpus_[v].run + offsetof(kvm_run, exit_reason), &r, sizeof r))
      return std::nullopt;
    return r;
  }

  // --- registers of a stopped thread ------------------------------------
  static bool get_regs(pid_t tid, user_pt_regs& r) {
    iovec iov{&r, sizeof r};
    return ::ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) == 0;
  }
  static bool set_regs(pid_t tid, user_pt_regs& r) {
    iovec iov{&r, sizeof r};
    return ::ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) == 0;
  }

  // A thread stopped right after an interrupted KVM_RUN (x0 = -EINTR,
  // x1 = KVM_RUN, x8 = ioctl, svc #0 before pc): rewind it so the VMM
  // re-enters KVM_RUN on resume. `fd`: known from a syscall-entry stop, else
  // the one vCPU not claimed by another thread whose kvm_run says
  // KVM_EXIT_INTR (vCPU threads are stopped one at a time at attach).
  void maybe_rewind(pid_t tid, int fd) {
    user_pt_regs r{};
    if (!get_regs(tid, r)) return;
    if (r.regs[8] != kArm64NrIoctl || r.regs[1] != kKvmRun || r.regs[0] != static_cast<std::uint64_t>(-EINTR)) return;
    std::uint32_t insn = 0;
    if (!peek(r.pc - 4, &insn, sizeof insn) || insn != kSvc0) return;
    if (fd < 0) {
      if (auto it = thread_fd.find(tid); it != thread_fd.end()) fd = it->second;
    }
    if (fd < 0) {
      std::vector<int> candidates;
      for (unsigned v = 0; v < b.vcpus_.size(); ++v) {
        bool claimed = false;
        for (const auto& [t, f] : thread_fd) claimed |= (t != tid && f == b.vcpus_[v].fd && threads.count(t));
        if (!claimed && exit_reason(v) == std::optional<std::uint32_t>(KVM_EXIT_INTR))
          candidates.push_back(b.vcpus_[v].fd);
      }
      if (candidates.size() != 1) {
        b.log(
            fmt::format("thread {} left KVM_RUN but its vCPU cannot be told ({} candidates); the VMM sees EINTR "
                        "from KVM_RUN once",
                        tid, candidates.size()));
        return;
      }
      fd = candidates[0];
    }
    thread_fd[tid] = fd;
    r.pc -= 4;
    r.regs[0] = static_cast<std::uint64_t>(fd);
    if (!set_regs(tid, r)) b.log(fmt::format("thread {}: cannot rewind KVM_RUN: {}", tid, std::strerror(errno)));
  }

  // --- events -----------------------------------------------------------
  bool all_stopped() const {
    for (const auto& [tid, t] : threads)
      if (t.stop == Stop::Running) return false;
    return true;
  }

  void cont(pid_t tid, Thread& t) {
    int sig = 0;
    if (t.pending_sig) {
      if (t.stop == Stop::Signal)
        sig = t.pending_sig;
      else
        ::syscall(SYS_tgkill, b.pid_, tid, t.pending_sig);  // comes back as a signal stop, passed on then
      t.pending_sig = 0;
    }
    t.stop = Stop::Running;
    t.held = false;
    ::ptrace(trace_syscalls ? PTRACE_SYSCALL : PTRACE_CONT, tid, nullptr,
             reinterpret_cast<void*>(static_cast<long>(sig)));
  }

  void begin_stop() {
    state = State::Stopping;
    for (auto& [tid, t] : threads)
      if (t.stop == Stop::Running) ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
  }

  void mark_stopped(pid_t tid, Thread& t, Stop how) {
    t.stop = how;
    if (!first_vcpu) first_vcpu = vcpu_of_thread(tid);
  }

  void complete_if_stopped() {
    if (state != State::Stopping || !all_stopped()) return;
    state = State::Stopped;
    pending = reason ? *reason : BackendStop{first_vcpu.value_or(0), StopReason::Interrupted, 0, 0};
    reason.reset();
    arm(false);
  }

  void on_exited(pid_t tid) {
    threads.erase(tid);
    thread_fd.erase(tid);
    if (state == State::Exited) return;  // already reported
    if (tid == b.pid_ || threads.empty()) {
      state = State::Exited;
      loop_in_cave = false;  // gone with the VMM
      writable.clear();
      end_colocation();
      threads.clear();
      pending = BackendStop{0, StopReason::Exited, 0, 0};
      b.log(fmt::format("the VMM (pid {}) exited", b.pid_));
      arm(false);
    }
  }

  void handle(pid_t tid, int st) {
    forget_thread_state();  // a thread's stop changed: choose and read afresh
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      on_exited(tid);
      return;
    }
    if (!WIFSTOPPED(st)) return;
    auto& t = threads[tid];  // a new clone child may report before its parent's event
    const bool run_on = state == State::Running && !t.held;
    const int sig = WSTOPSIG(st);
    const int event = st >> 16;
    if (event == PTRACE_EVENT_CLONE) {
      unsigned long child = 0;
      ::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child);
      threads.try_emplace(static_cast<pid_t>(child));
      if (run_on)
        cont(tid, t);
      else
        mark_stopped(tid, t, Stop::Event);
      return;
    }
    if (event == PTRACE_EVENT_STOP) {
      if (run_on) {
        cont(tid, t);  // a new thread's first stop, or an interrupt that came late
        return;
      }
      mark_stopped(tid, t, Stop::Event);
      maybe_rewind(tid, -1);
      return;
    }
    if (sig == (SIGTRAP | 0x80)) {
      __ptrace_syscall_info info{};
      if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0) {
        if (run_on)
          cont(tid, t);
        else
          mark_stopped(tid, t, Stop::Event);
        return;
      }
      if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        t.entry_kvm_run = info.entry.nr == static_cast<std::uint64_t>(kArm64NrIoctl) && info.entry.args[1] == kKvmRun;
        if (t.entry_kvm_run && vcpu_of_fd(static_cast<int>(info.entry.args[0])))
          thread_fd[tid] = static_cast<int>(info.entry.args[0]);
        if (run_on)
          cont(tid, t);
        else
          mark_stopped(tid, t, Stop::SyscallEntry);
        return;
      }
      // Exit stop.
      auto fd_it = thread_fd.find(tid);
      const auto v = t.entry_kvm_run && fd_it != thread_fd.end() ? vcpu_of_fd(fd_it->second) : std::nullopt;
      t.entry_kvm_run = false;
      if (v && info.exit.rval == 0 && exit_reason(*v) == std::optional<std::uint32_t>(KVM_EXIT_DEBUG)) {
        // The debugger's exit: keep it from the VMM, stop everyone.
        std::uint32_t hsr = 0;
        std::uint64_t far = 0;
        const auto run = b.vcpus_[*v].run;
        (void)peek(run + offsetof(kvm_run, debug.arch.hsr), &hsr, sizeof hsr);
        (void)peek(run + offsetof(kvm_run, debug.arch.far), &far, sizeof far);
        BackendStop s = debug_exit_stop(*v, hsr, far, /*stepping=*/false);
        user_pt_regs r{};
        if (get_regs(tid, r)) {
          r.pc -= 4;
          r.regs[0] = static_cast<std::uint64_t>(fd_it->second);
          (void)set_regs(tid, r);
        }
        mark_stopped(tid, t, Stop::SyscallExit);
        if (!reason || reason->reason == StopReason::Interrupted) reason = s;
        if (state == State::Running) begin_stop();
        return;
      }
      if (v && info.exit.rval == -EINTR && state != State::Running) {
        mark_stopped(tid, t, Stop::SyscallExit);
        maybe_rewind(tid, fd_it->second);
        return;
      }
      if (run_on)
        cont(tid, t);
      else
        mark_stopped(tid, t, Stop::SyscallExit);
      return;
    }
    // Signal-delivery stop: the VMM's own signal.
    t.pending_sig = sig;
    t.stop = Stop::Signal;
    if (run_on)
      cont(tid, t);
    else
      mark_stopped(tid, t, Stop::Signal);
  }

  void pump() {
    if (state == State::Detached || state == State::Exited) return;
    bool gone = false;
    for (const auto& [tid, st] : std::exchange(deferred, {}))
      if (!gone) gone = !dispatch(tid, st);
    while (!gone) {
      int st = 0;
      const pid_t tid = ::waitpid(-1, &st, __WALL | WNOHANG);
      if (tid <= 0) break;
      gone = !dispatch(tid, st);
    }
    complete_if_stopped();
  }

  // One waitpid() event; false once the VMM is gone.
  bool dispatch(pid_t tid, int st) {
    if (!threads.count(tid) && !WIFSTOPPED(st)) {
      if (tid == b.pid_) on_exited(tid);
    } else {
      handle(tid, st);
    }
    return state != State::Exited;
  }

  // The next event of thread `tid` during a trip, into `st`; false: the
  // thread is gone (its exit is recorded with on_exited()) or the VMM is.
  // Every other thread is in a ptrace stop and can only die meanwhile (the
  // VMM killed), and their exits are reaped here: the kernel reports a
  // dying thread group's leader only after its tracer has reaped every
  // other thread (kernel/exit.c, delay_group_leader), so waiting for the
  // leader alone would never end. Any other event of another thread is
  // kept for pump().
  std::vector<std::pair<pid_t, int>> deferred;
  bool wait_trip(pid_t tid, int& st) {
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
        deferred.emplace_back(w, st);
      if (state == State::Exited) return false;
    }
  }

  // Waits until `pred` holds (pumping events) or `ms` pass.
  template <typename Pred>
  bool wait_until(Pred pred, int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      pump();
      if (pred()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // Seizes every thread (again after a detach) and stops them one at a
  // time, so an interrupted KVM_RUN can be matched with its vCPU.
  Status seize_and_stop() {
    const unsigned long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD;
    state = State::Stopping;
    reason.reset();
    pending.reset();
    first_vcpu.reset();
    threads.clear();
    forget_thread_state();
    tracer = static_cast<pid_t>(::syscall(SYS_gettid));
    for (bool more = true; more;) {
      more = false;
      for (pid_t tid : list_tasks(b.pid_)) {
        if (threads.count(tid)) continue;
        if (::ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(opts)) != 0) {
          const int err = errno;
          if (err == ESRCH) continue;  // the thread just exited
          if (threads.empty()) {
            state = State::Detached;
            if (err == EPERM)
              return make_error(EPERM, "cannot attach to pid {} ({}): {}", b.pid_, comm_of(b.pid_),
                                ptrace_denied_reason(b.pid_));
            return make_error(err, "cannot attach to pid {}: PTRACE_SEIZE: {}", b.pid_, std::strerror(err));
          }
          b.log(fmt::format("thread {}: PTRACE_SEIZE: {}", tid, std::strerror(err)));
          continue;
        }
        threads[tid] = Thread{};
        more = true;
      }
    }
    if (threads.empty()) {
      state = State::Detached;
      return make_error(ESRCH, "pid {} has no threads left to attach to", b.pid_);
    }
    std::vector<pid_t> order;
    for (const auto& [tid, t] : threads) order.push_back(tid);
    for (pid_t tid : order) {
      if (!threads.count(tid) || threads[tid].stop != Stop::Running) continue;
      ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
      if (!wait_until(
              [&] { return state == State::Exited || !threads.count(tid) || threads[tid].stop != Stop::Running; },
              5000))
        b.log(fmt::format("thread {} did not stop within 5 s", tid));
      if (state == State::Exited) return make_error(ESRCH, "the VMM (pid {}) exited while svedbg attached", b.pid_);
    }
    // Threads created meanwhile (TRACECLONE) stop by themselves.
    if (!wait_until([&] { return state != State::Stopping; }, 5000)) {
      return make_error(ETIMEDOUT, "pid {}: not every thread stopped within 5 s", b.pid_);
    }
    if (state == State::Exited) return make_error(ESRCH, "the VMM (pid {}) exited while svedbg attached", b.pid_);
    return {};
  }

  void detach_all() {
    if (state == State::Detached || state == State::Exited) return;
    if (state == State::Running || state == State::Stopping) {
      if (state == State::Running) begin_stop();
      if (!wait_until([&] { return state != State::Stopping; }, 5000))
        b.log("detach: not every thread stopped within 5 s; detaching the stopped ones");
    }
    if (state == State::Stopped) {
      for (unsigned v = 0; v < b.vcpus_.size(); ++v) {
        if (applied[v].control == 0) continue;
        GuestDebug none;
        if (auto s = apply_debug(v, none); !s) b.log(s.error().message);
      }
      put_cave_back();
      new_stop();
    }
    for (auto& [tid, t] : threads) {
      if (t.stop == Stop::Running) continue;  // the kernel detaches it when svedbg exits
      const int sig = t.stop == Stop::Signal ? t.pending_sig : 0;
      ::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
      if (t.pending_sig && t.stop != Stop::Signal) ::syscall(SYS_tgkill, b.pid_, tid, t.pending_sig);
    }
    threads.clear();
    forget_thread_state();
    trace_syscalls = false;
    if (state != State::Exited) state = State::Detached;
    arm(false);
  }

  // --- injection ---------------------------------------------------------
  // Threads to run injected calls on, best first. Not one at a syscall-exit
  // stop whose call returned -ERESTART* (an interrupted futex, say): the
  // kernel restarts that call after the stop from orig_x0, which an
  // injected call would replace with its own first argument. Event stops
  // come after that restart logic, so they are always safe.
  std::vector<pid_t> injection_threads() {
    if (inject_candidates) return *inject_candidates;
    std::vector<pid_t> events, exits, signals;
    for (const auto& [tid, t] : threads) {
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
    inject_candidates = events;
    return events;
  }

  // Per stop, while no thread stops anew: the injection candidates, and
  // each injecting thread's registers at its stop (every trip restores
  // exactly these, so they stay valid).
  struct Saved {
    user_pt_regs regs{};
    int nr = -1;
    bool have_nr = false;
  };
  std::optional<std::vector<pid_t>> inject_candidates;
  std::map<pid_t, Saved> saved_regs;
  void forget_thread_state() {
    inject_candidates.reset();
    saved_regs.clear();
  }
  Result<Saved> saved_of(pid_t tid) {
    if (auto it = saved_regs.find(tid); it != saved_regs.end()) return it->second;
    Saved sv;
    if (!get_regs(tid, sv.regs)) return make_error(errno, "thread {}: PTRACE_GETREGSET: {}", tid, std::strerror(errno));
    iovec nr_iov{&sv.nr, sizeof sv.nr};
    sv.have_nr = ::ptrace(PTRACE_GETREGSET, tid, NT_ARM_SYSTEM_CALL, &nr_iov) == 0;
    saved_regs[tid] = sv;
    return sv;
  }
  void restore_regs(pid_t tid, Saved& sv) {
    (void)set_regs(tid, sv.regs);
    iovec nr_iov{&sv.nr, sizeof sv.nr};
    if (sv.have_nr) ::ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &nr_iov);
  }
  Result<pid_t> injection_thread() {
    auto all = injection_threads();
    if (all.empty()) return make_error(EAGAIN, "no thread of the VMM is stopped where a system call can be injected");
    return all.front();
  }

  Status check_stopped() const {
    if (state == State::Stopped) return {};
    if (state == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", b.pid_);
    return make_error(EBUSY, "the VMM is running; registers are read while it is stopped");
  }

  // Counting: every trip into the VMM, the system calls it ran for us, and
  // what register reads cost in the current stop (`monitor attach`).
  struct StopCost {
    std::uint64_t read_trips = 0;   // register reads
    std::uint64_t reg_ioctls = 0;   // KVM_GET_ONE_REG run
    std::uint64_t other_trips = 0;  // KVM_SET_ONE_REG, KVM_SET_GUEST_DEBUG
    std::chrono::nanoseconds read_time{0};
  };
  StopCost cost, last_cost;
  bool have_last_cost = false;
  bool reading = false;  // the trip being made is for a register read
  void count_trip() {
    ++b.trips_;
    if (reading)
      ++cost.read_trips;
    else
      ++cost.other_trips;
  }
  // Marks register-read work (trips counted as such) and adds its time.
  struct ReadScope {
    Impl& im;
    bool was;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    explicit ReadScope(Impl& i) : im(i), was(i.reading) { im.reading = true; }
    ~ReadScope() {
      im.reading = was;
      if (!was) im.cost.read_time += std::chrono::steady_clock::now() - t0;
    }
    ReadScope(const ReadScope&) = delete;
    ReadScope& operator=(const ReadScope&) = delete;
  };
  void new_stop() {  // the guest runs again: what this stop cost is kept for `monitor attach`
    last_cost = cost;
    have_last_cost = true;
    cost = {};
    trap_ok.clear();
    forget_thread_state();
    end_colocation();
  }

  // A trip wakes the stopped VMM thread and waits for it to stop again.
  // Were the two on different CPUs, each trip would take two cross-CPU
  // wake-ups, each an IPI to a possibly idle CPU (on nested KVM under TCG,
  // waking a halted vCPU thread of QEMU: milliseconds on a busy host). So
  // during a trip the tracer thread and the VMM thread it injects on share
  // one CPU: the tracer is pinned to the CPU it is on for the whole stop
  // (its own affinity back at resume and detach: end_colocation()), the
  // VMM thread to the same CPU for the trip only (Colocated), so that no
  // VMM thread is left pinned should svedbg die between trips. A thread
  // that may not run there (its own mask, a cpuset) is left alone.
  // `monitor attach colocate off` disables it (for comparison).
  bool colocate_on = true;
  int pin_cpu = -1;
  std::optional<cpu_set_t> tracer_affinity;  // ours, before pinning
  std::map<pid_t, cpu_set_t> pinned;         // VMM threads pinned now, with their affinity
  struct Colocated {
    Impl& im;
    pid_t tid;
    Colocated(Impl& i, pid_t t) : im(i), tid(t) { im.colocate(tid); }
    ~Colocated() { im.release(tid); }
    Colocated(const Colocated&) = delete;
    Colocated& operator=(const Colocated&) = delete;
  };
  void release(pid_t tid) {
    auto it = pinned.find(tid);
    if (it == pinned.end()) return;
    if (::sched_setaffinity(tid, sizeof it->second, &it->second) != 0 && errno != ESRCH)
      b.log(fmt::format("thread {}: cannot restore its CPU affinity: {}", tid, std::strerror(errno)));
    pinned.erase(it);
  }
  void colocate(pid_t tid) {
    if (!colocate_on) return;
    if (pin_cpu < 0) {
      cpu_set_t ours;
      const int cpu = ::sched_getcpu();
      if (cpu < 0 || cpu >= CPU_SETSIZE || ::sched_getaffinity(0, sizeof ours, &ours) != 0) return;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (::sched_setaffinity(0, sizeof one, &one) != 0) return;
      tracer_affinity = ours;
      pin_cpu = cpu;
    }
    if (pinned.count(tid)) return;
    cpu_set_t theirs;
    if (::sched_getaffinity(tid, sizeof theirs, &theirs) != 0 || !CPU_ISSET(pin_cpu, &theirs)) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(pin_cpu, &one);
    if (::sched_setaffinity(tid, sizeof one, &one) == 0) pinned[tid] = theirs;
  }
  void end_colocation() {
    while (!pinned.empty()) release(pinned.begin()->first);
    if (tracer_affinity) (void)::sched_setaffinity(0, sizeof *tracer_affinity, &*tracer_affinity);
    tracer_affinity.reset();
    pin_cpu = -1;
  }

  // ioctl(fd, req, SCRATCH) run by the VMM on a stopped thread (one
  // trip): the registers (NT_PRSTATUS, and the syscall number
  // NT_ARM_SYSTEM_CALL) are saved, pc pointed at an `svc #0` of the VMM's
  // own code, x8/x0..x2 set, the call run (single-stepped, or with
  // PTRACE_SYSCALL: below), x0 read and the registers restored. `block` is
  // copied to SCRATCH (a block 4 KiB below the thread's sp, whose bytes are
  // put back after) before the call and copied back after; when `self_ptr`
  // is set, the u64 at offset 8 of `block` is made to point at SCRATCH + 16
  // (struct kvm_one_reg.addr).
  Result<long> ioctl(int fd, unsigned long req, std::vector<std::byte>& block, bool self_ptr) {
    if (auto s = check_stopped(); !s) return s.error();
    auto tid_r = injection_thread();
    if (!tid_r) return tid_r.error();
    const pid_t tid = *tid_r;
    Colocated on_one_cpu(*this, tid);
    auto& t = threads[tid];
    const Stop was = t.stop;
    auto sv = saved_of(tid);
    if (!sv) return sv.error();
    const user_pt_regs& saved = sv->regs;
    const std::uint64_t base = (saved.sp - 4096 - block.size()) & ~std::uint64_t{15};
    if (self_ptr) {
      const std::uint64_t p = base + 16;
      std::memcpy(block.data() + 8, &p, sizeof p);
    }
    std::vector<std::byte> old(block.size());
    if (!peek(base, old.data(), old.size()) || !poke(base, block.data(), block.size()))
      return make_error(EFAULT, "thread {}: cannot use the stack below sp {:#x} as scratch", tid, saved.sp);
    user_pt_regs r = saved;
    r.pc = svc;
    r.regs[8] = kArm64NrIoctl;
    r.regs[0] = static_cast<std::uint64_t>(fd);
    r.regs[1] = req;
    r.regs[2] = base;
    auto restore = [&] {
      (void)poke(base, old.data(), old.size());
      restore_regs(tid, *sv);
    };
    if (!set_regs(tid, r)) {
      const int err = errno;
      restore();
      return make_error(err, "thread {}: PTRACE_SETREGSET: {}", tid, std::strerror(err));
    }
    long rval = 0;
    bool entered = false;
    // One stop instead of two where the thread's SIGTRAP is safe to force
    // (see trap_safe()): single-stepping the `svc` runs the call and stops
    // right after it, at svc + 4, with a SIGTRAP (arm64 reports a step
    // over a system call at its exit, before the thread returns to user
    // space), which is taken like the batch loop's and never delivered.
    // A VMM signal stops it at svc (before the call) or, queued beside the
    // SIGTRAP, at svc + 4 (the SIGTRAP follows before any instruction
    // runs); either is kept for the resume. The thread never steps past
    // svc + 4. Otherwise PTRACE_SYSCALL: its entry and exit stops.
    const bool step = trap_safe(tid);
    const auto go = [&] { ::ptrace(step ? PTRACE_SINGLESTEP : PTRACE_SYSCALL, tid, nullptr, nullptr); };
    go();
    for (;;) {
      int st = 0;
      if (!wait_trip(tid, st))
        return make_error(ESRCH, "the VMM (pid {}) exited during an injected system call", b.pid_);
      if (!WIFSTOPPED(st)) continue;
      const int sig = WSTOPSIG(st);
      if (step && (st >> 16) == 0 && sig != (SIGTRAP | 0x80)) {
        user_pt_regs now{};
        const bool have = get_regs(tid, now);
        if (have && now.pc == svc + 4 && sig == SIGTRAP) {
          rval = static_cast<long>(now.regs[0]);
          break;
        }
        if (!have || (now.pc != svc && now.pc != svc + 4)) {
          restore();
          t.stop = was == Stop::Event ? Stop::Event : Stop::SyscallExit;
          return make_error(EIO, "thread {}: injected ioctl stopped at {:#x}, not at the svc at {:#x}", tid, now.pc,
                            svc);
        }
        if (!t.pending_sig) t.pending_sig = sig;  // the VMM's signal: delivered on resume
        go();
        continue;
      }
      if (sig == (SIGTRAP | 0x80)) {
        __ptrace_syscall_info info{};
        if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT &&
            entered) {
          rval = info.exit.rval;
          break;
        }
        entered = true;
      } else if ((st >> 16) == 0) {
        if (!t.pending_sig) t.pending_sig = sig;  // the VMM's signal: delivered on resume
      }
      go();
    }
    ++b.injected_;
    ++b.kvm_ioctls_;
    if (!peek(base, block.data(), block.size())) rval = -EFAULT;
    restore();
    // Registers and syscall number are as at the stop: an event stop stays
    // one as far as the kernel's restart logic is concerned.
    t.stop = was == Stop::Event ? Stop::Event : Stop::SyscallExit;
    count_trip();
    return rval;
  }

  // --- batched register reads (kvm/attach/inject_batch.hpp) ----------------------
  // The loop's code goes into the code cave found at attach
  // (kvm/attach/code_cave.hpp: executable bytes the VMM never runs) at the first
  // batch of a stop, and the cave's own bytes go back before the VMM runs
  // again (put_cave_back() in every resume and detach). Both are writes
  // through /proc/PID/mem, not trips; were svedbg killed in between, the
  // loop would stay only where the VMM never runs. Each trip's table goes
  // on the loop thread's stack below its sp (stack_room()), whose bytes are
  // put back after the trip. So a stop's register reads cost one trip per
  // batch and nothing else (an injected mmap and munmap of RWX scratch
  // memory were two more trips per stop, and munmap's TLB flush the
  // slowest of them).
  CodeCave cave;                      // addr 0: none found, batching off
  std::vector<std::byte> cave_bytes;  // the cave's own bytes, put back
  bool loop_in_cave = false;          // the loop is there (this stop)
  bool batching = true;               // off: `monitor attach batch off`, no code cave, or the loop failed
  std::string batching_note;          // why it is off
  std::map<pid_t, bool> trap_ok;      // this stop: a brk's SIGTRAP leaves the thread's signal state alone

  Status write_loop() {
    if (loop_in_cave) return {};
    const auto code = batch::code_bytes();
    loop_in_cave = true;  // even a partial write is put back
    if (!poke(cave.addr, code.data(), code.size())) {
      const int err = errno;
      put_cave_back();
      return make_error(err, "cannot write the batch loop to the VMM at {:#x} ({}): {}", cave.addr, cave.path,
                        std::strerror(err));
    }
    return {};
  }

  void put_cave_back() {
    if (!loop_in_cave) return;
    loop_in_cave = false;
    if (!poke(cave.addr, cave_bytes.data(), cave_bytes.size()))
      b.log(
          fmt::format("cannot put the VMM's own bytes back at {:#x} ({}) over the batch loop: {} (harmless: the VMM "
                      "never runs them)",
                      cave.addr, cave.path, std::strerror(errno)));
  }

  // Where a trip's table may go on thread `tid`'s stack: below `top`, 4 KiB
  // under sp (the gap ioctl()'s block keeps too), down to the
  // bottom of the mapping that holds sp (16-aligned), at most
  // kMaxTableBytes. The VMM's writable mappings are read from
  // /proc/PID/maps (1 to 5 ms on nested KVM: as much as a trip) only when
  // sp is in none of those read before; a mapping holding a live thread's
  // sp does not go away, and stacks only grow. forget_writable() after a
  // failed access.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> writable;  // [start, end), sorted
  void forget_writable() { writable.clear(); }
  void learn_writable(const std::vector<MapEntry>& maps) {
    writable.clear();
    for (const auto& e : maps)
      if (e.read && e.write) writable.emplace_back(e.start, e.end);  // /proc lists them in order
  }
  const std::pair<std::uint64_t, std::uint64_t>* writable_at(std::uint64_t addr) const {
    auto it = std::upper_bound(writable.begin(), writable.end(), addr,
                               [](std::uint64_t a, const auto& m) { return a < m.first; });
    if (it == writable.begin() || addr >= std::prev(it)->second) return nullptr;
    return &*std::prev(it);
  }
  struct StackRoom {
    std::uint64_t top = 0;
    std::size_t bytes = 0;
  };
  Result<StackRoom> stack_room(pid_t tid, std::uint64_t sp) {
    const auto* m = writable_at(sp);
    if (!m) {
      learn_writable(parse_maps(read_text(fmt::format("/proc/{}/maps", b.pid_))));
      m = writable_at(sp);
      if (!m) return make_error(EFAULT, "thread {}: sp {:#x} is in no writable mapping of the VMM", tid, sp);
    }
    const std::uint64_t low = (m->first + 15) & ~std::uint64_t{15};
    const std::uint64_t top = (sp - 4096) & ~std::uint64_t{15};
    if (sp < 4096 || top <= low) return make_error(ENOSPC, "thread {}: no room below sp {:#x} for a batch", tid, sp);
    return StackRoom{top, static_cast<std::size_t>(std::min<std::uint64_t>(top - low, batch::kMaxTableBytes))};
  }

  // The loop ends in `brk #0` and a single-stepped `svc` in a step
  // report, SIGTRAPs the kernel forces: were SIGTRAP blocked in the thread
  // or ignored by the VMM, forcing one would unblock it and reset its
  // handler to SIG_DFL. Such threads run neither.
  bool trap_safe(pid_t tid) {
    if (auto it = trap_ok.find(tid); it != trap_ok.end()) return it->second;
    std::istringstream in(read_text(fmt::format("/proc/{}/task/{}/status", b.pid_, tid)));
    std::string line;
    std::optional<unsigned long long> blocked, ignored;
    while (std::getline(in, line)) {
      if (line.rfind("SigBlk:", 0) == 0) blocked = std::strtoull(line.c_str() + 7, nullptr, 16);
      if (line.rfind("SigIgn:", 0) == 0) ignored = std::strtoull(line.c_str() + 7, nullptr, 16);
    }
    constexpr unsigned long long kTrap = 1ull << (SIGTRAP - 1);
    const bool ok = blocked && ignored && !(*blocked & kTrap) && !(*ignored & kTrap);
    trap_ok[tid] = ok;
    return ok;
  }

  // The thread to run the loop on: an injection thread whose SIGTRAP is safe.
  std::optional<pid_t> loop_thread() {
    for (pid_t c : injection_threads())
      if (trap_safe(c)) return c;
    return std::nullopt;
  }
  bool warned_no_loop_thread = false;

  // One trip through the loop: as many of `calls` (from the front) as the
  // loop thread's stack has room for. Returns the plan and the bytes at
  // plan.table afterwards (entries, then values).
  struct BatchRun {
    batch::Plan plan;
    std::vector<std::byte> back;
  };
  Result<BatchRun> run_batch(std::span<const batch::Call> calls) {
    if (auto s = check_stopped(); !s) return s.error();
    if (auto s = write_loop(); !s) return s.error();
    const auto picked = loop_thread();
    if (!picked)
      return make_error(EAGAIN, "no stopped thread of the VMM can run the batch loop (SIGTRAP blocked or ignored)");
    const pid_t tid = *picked;
    Colocated on_one_cpu(*this, tid);
    auto& t = threads[tid];
    const Stop was = t.stop;
    auto sv = saved_of(tid);
    if (!sv) return sv.error();
    const user_pt_regs& saved = sv->regs;
    auto room = stack_room(tid, saved.sp);
    if (!room) return make_error(EAGAIN, "{}", room.error().message);
    // Sized first, then placed right under the top, close to sp.
    const auto sizing = batch::plan(0, room->bytes, calls);
    if (sizing.count == 0)
      return make_error(EAGAIN, "thread {}: {} bytes below sp {:#x} hold no batch", tid, room->bytes, saved.sp);
    const std::uint64_t table = (room->top - sizing.read_bytes) & ~std::uint64_t{15};
    BatchRun run{batch::plan(table, static_cast<std::size_t>(room->top - table), calls), {}};
    const auto& plan = run.plan;
    std::vector<std::byte> old(plan.read_bytes);
    if (!peek(plan.table, old.data(), old.size())) {
      forget_writable();
      return make_error(EAGAIN, "thread {}: cannot read the stack at {:#x} for the batch table", tid, plan.table);
    }
    auto restore = [&] {
      (void)poke(plan.table, old.data(), old.size());
      restore_regs(tid, *sv);
    };
    if (!poke(plan.table, plan.table_bytes.data(), plan.table_bytes.size())) {
      restore();
      forget_writable();
      return make_error(EAGAIN, "thread {}: cannot write the batch table at {:#x} in the VMM", tid, plan.table);
    }
    user_pt_regs r = saved;
    r.pc = cave.addr;
    r.regs[0] = 0;  // not an -ERESTART* value, whatever stop the thread was in
    r.regs[19] = plan.table;
    r.regs[20] = plan.count;
    if (!set_regs(tid, r)) {
      const int err = errno;
      restore();
      return make_error(err, "thread {}: PTRACE_SETREGSET: {}", tid, std::strerror(err));
    }
    const std::uint64_t brk = cave.addr + batch::kBrkOffset;
    ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    if (kill_vmm_at_batch && b.batches_ + 1 == kill_vmm_at_batch) {
      b.log(fmt::format("fault injection: SIGKILL to the VMM (pid {}) during batch {}", b.pid_, kill_vmm_at_batch));
      ::kill(b.pid_, SIGKILL);
    }
    for (;;) {
      int st = 0;
      if (!wait_trip(tid, st))
        return make_error(ESRCH, "the VMM (pid {}) exited during an injected batch of system calls", b.pid_);
      if (!WIFSTOPPED(st)) continue;
      const int sig = WSTOPSIG(st);
      if ((st >> 16) != 0 || sig == (SIGTRAP | 0x80)) {  // an event stop (e.g. a group stop): run on
        ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
        continue;
      }
      user_pt_regs now{};
      siginfo_t si{};
      const bool have_pc = get_regs(tid, now);
      const bool from_kernel = ::ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0 && si.si_code > 0;
      if (sig == SIGTRAP && have_pc && now.pc == brk && from_kernel) break;  // the loop's end
      if (from_kernel && have_pc && now.pc >= cave.addr && now.pc < cave.addr + 4 * batch::kLoopCode.size() &&
          (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGTRAP || sig == SIGFPE)) {
        restore();
        t.stop = was == Stop::Event ? Stop::Event : Stop::SyscallExit;
        return make_error(EFAULT, "the batch loop faulted in the VMM (signal {} at pc {:#x})", sig, now.pc);
      }
      if (!t.pending_sig) t.pending_sig = sig;  // the VMM's signal: delivered on resume, not now
      ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    }
    std::vector<std::byte> back(plan.read_bytes);
    const bool read_ok = peek(plan.table, back.data(), back.size());
    restore();
    // As after ioctl(): the thread now sits in the brk's signal-delivery
    // stop with the registers of its own stop; resumed without a signal
    // (the SIGTRAP is dropped) it continues exactly where it was.
    t.stop = was == Stop::Event ? Stop::Event : Stop::SyscallExit;
    count_trip();
    for (std::size_t i = 0; i < plan.count; ++i)
      if (!read_ok || batch::result_of(back, i) != batch::kNotRun) {
        ++b.injected_;
        ++b.kvm_ioctls_;
        ++cost.reg_ioctls;
      }
    if (!read_ok) return make_error(EFAULT, "cannot read the batch results at {:#x} in the VMM", plan.table);
    run.back = std::move(back);
    return run;
  }

  // KVM_GET_ONE_REG for reads[i], i in `todo` (sizes already checked).
  // Every read gets its own status: through the batch loop where a thread
  // can run it, else (and for whatever a failed batch left) one injected
  // ioctl per register; once the VMM is gone (or was never stopped) each
  // read still outstanding fails with that error.
  void read_regs(std::span<Backend::RegRead> reads, const std::vector<std::size_t>& todo) {
    ReadScope scope(*this);
    const auto fail_from = [&](std::size_t from, const Error& why) {
      for (std::size_t k = from; k < todo.size(); ++k) reads[todo[k]].status = why;
    };
    if (auto s = check_stopped(); !s) return fail_from(0, s.error());
    bool batched = batching;
    if (batched && !loop_thread()) {
      if (!warned_no_loop_thread)
        b.log(
            "no stopped thread of the VMM can run the batch loop (SIGTRAP blocked or ignored in each); reading "
            "one injected system call per register");
      warned_no_loop_thread = true;
      batched = false;
    }
    std::size_t done = 0;
    if (batched) {
      std::vector<batch::Call> calls;
      for (auto i : todo) calls.push_back(batch::Call{b.vcpus_[reads[i].vcpu].fd, reads[i].id, reads[i].out.size()});
      while (done < calls.size()) {
        auto run = run_batch(std::span<const batch::Call>(calls).subspan(done));
        if (!run) {
          if (run.error().code == ESRCH || state != State::Stopped) return fail_from(done, run.error());  // VMM gone
          // Whatever went wrong, the registers can still be read one by one.
          if (run.error().code != EAGAIN) {
            batching = false;
            batching_note = run.error().message;
          }
          b.log(fmt::format("{}; reading one injected system call per register{}", run.error().message,
                            batching ? "" : " from now on"));
          break;
        }
        const auto& plan = run->plan;
        const auto& back = run->back;
        ++b.batches_;
        b.batched_regs_ += plan.count;
        for (std::size_t k = 0; k < plan.count; ++k) {
          auto& rd = reads[todo[done + k]];
          rd.status = batch::status_of(batch::result_of(back, k), rd.vcpu, rd.id);
          if (rd.status) {
            const auto value = batch::value_of(plan, back, k);
            std::copy(value.begin(), value.end(), rd.out.begin());
          }
        }
        done += plan.count;
      }
    }
    for (std::size_t k = done; k < todo.size(); ++k) {
      auto& rd = reads[todo[k]];
      rd.status = one_reg(rd.vcpu, rd.id, rd.out, false);
      if (!rd.status && rd.status.error().code == ESRCH) return fail_from(k + 1, rd.status.error());  // VMM gone
    }
  }

  Status one_reg(unsigned v, std::uint64_t id, std::span<std::byte> data, bool write) {
    const std::size_t size = reg_size(id);
    if (data.size() != size)
      return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", v, data.size(), reg_name(id), size);
    std::vector<std::byte> block(16 + size);
    std::memcpy(block.data(), &id, sizeof id);
    if (write) std::memcpy(block.data() + 16, data.data(), size);
    auto r = ioctl(b.vcpus_[v].fd, write ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, block, true);
    if (!r) return r.error();
    if (!write && reading) ++cost.reg_ioctls;
    if (*r < 0) return one_reg_error(v, id, write, static_cast<int>(-*r));
    if (!write) std::memcpy(data.data(), block.data() + 16, size);
    return {};
  }

  Status apply_debug(unsigned v, const GuestDebug& d) {
    kvm_guest_debug g{};
    g.control = d.control;
    for (unsigned i = 0; i < GuestDebug::kMaxHw && i < KVM_ARM_MAX_DBG_REGS; ++i) {
      g.arch.dbg_bcr[i] = d.bcr[i];
      g.arch.dbg_bvr[i] = d.bvr[i];
      g.arch.dbg_wcr[i] = d.wcr[i];
      g.arch.dbg_wvr[i] = d.wvr[i];
    }
    std::vector<std::byte> block(sizeof g);
    std::memcpy(block.data(), &g, sizeof g);
    auto r = ioctl(b.vcpus_[v].fd, KVM_SET_GUEST_DEBUG, block, false);
    if (!r) return r.error();
    if (*r < 0)
      return make_error(static_cast<int>(-*r), "vCPU {}: KVM_SET_GUEST_DEBUG: {}", v,
                        std::strerror(static_cast<int>(-*r)));
    applied[v] = d;
    return {};
  }
};

AttachBackend::AttachBackend(pid_t pid, AttachOptions options) : pid_(pid), options_(std::move(options)) {}

AttachBackend::~AttachBackend() {
  if (impl_) impl_->detach_all();
}

void AttachBackend::log(const std::string& line) const {
  if (options_.log)
    options_.log(line);
  else
    std::fprintf(stderr, "svedbg: %s\n", line.c_str());
}

Result<std::unique_ptr<AttachBackend>> AttachBackend::attach(pid_t pid, AttachOptions options) {
  if (pid <= 0) return make_error(EINVAL, "--pid {}: not a process id", pid);
  if (::kill(pid, 0) != 0 && errno == ESRCH) return make_error(ESRCH, "no process with pid {}", pid);
  const std::string comm = comm_of(pid);
  std::unique_ptr<AttachBackend> b(new AttachBackend(pid, std::move(options)));

  // vCPU fds.
  const std::string fd_dir = fmt::format("/proc/{}/fd", pid);
  DIR* d = ::opendir(fd_dir.c_str());
  if (!d) {
    const int err = errno;
    if (err == EACCES)
      return make_error(EACCES, "cannot read {} (pid {} is {}): {}", fd_dir, pid, comm, ptrace_denied_reason(pid));
    return make_error(err, "cannot read {}: {}", fd_dir, std::strerror(err));
  }
  bool vm_fd = false;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char target[256] = {};
    const ssize_t n = ::readlink(fmt::format("{}/{}", fd_dir, e->d_name).c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    auto link = parse_fd_link(std::string_view(target, static_cast<std::size_t>(n)));
    if (link.kind == FdKind::Vm) vm_fd = true;
    if (link.kind == FdKind::Vcpu)
      b->vcpus_.push_back(Vcpu{link.vcpu_id, static_cast<int>(std::strtol(e->d_name, nullptr, 10)), 0, {}, {}, false});
  }
  ::closedir(d);
  if (b->vcpus_.empty())
    return make_error(ENODEV, "pid {} ({}) is not a KVM VMM: it has no vCPU fds (anon_inode:kvm-vcpu:N in {}){}", pid,
                      comm, fd_dir, vm_fd ? "; it has a VM fd but no vCPUs yet" : "");
  std::sort(b->vcpus_.begin(), b->vcpus_.end(),
            [](const Vcpu& x, const Vcpu& y) { return x.id != y.id ? x.id < y.id : x.fd < y.fd; });
  // A VMM may hold a vCPU twice (a dup()'ed fd, e.g. for its own mmap):
  // one vCPU, served once, through its lowest fd.
  for (std::size_t i = 1; i < b->vcpus_.size();) {
    if (b->vcpus_[i].id == b->vcpus_[i - 1].id) {
      b->log(fmt::format("pid {}: kvm-vcpu:{} is open as fd {} and fd {}; using fd {}", pid, b->vcpus_[i].id,
                         b->vcpus_[i - 1].fd, b->vcpus_[i].fd, b->vcpus_[i - 1].fd));
      b->vcpus_.erase(b->vcpus_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }

  b->impl_ = std::make_unique<Impl>(*b);
  auto& im = *b->impl_;
  im.applied.assign(b->vcpus_.size(), GuestDebug{});
  if (const char* fault = std::getenv("SVEDBG_FAULT_INJECT")) {
    constexpr std::string_view kKillInBatch = "kill-vmm-in-batch:";
    const std::string_view f(fault);
    if (f.rfind(kKillInBatch, 0) == 0) im.kill_vmm_at_batch = std::strtoull(fault + kKillInBatch.size(), nullptr, 10);
    if (!im.kill_vmm_at_batch)
      return make_error(EINVAL, "SVEDBG_FAULT_INJECT={}: expected kill-vmm-in-batch:N (N >= 1)", fault);
    b->log(fmt::format("fault injection: the VMM gets SIGKILL during batch {}", im.kill_vmm_at_batch));
  }
  // The VMM's memory and each vCPU's kvm_run mapping, known before the
  // first stop so that it can rewind an interrupted KVM_RUN (see
  // maybe_rewind). Opening /proc/PID/mem needs ptrace rights; where only a
  // tracer has them (Yama ptrace_scope 1), it is opened after seizing and
  // the first stop cannot rewind (logged there).
  auto learn = [&] {
    if (!im.mem.valid()) im.mem.reset(::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC));
    auto maps = parse_maps(read_text(fmt::format("/proc/{}/maps", pid)));
    for (auto& v : b->vcpus_) {
      const std::string name = fmt::format("anon_inode:kvm-vcpu:{}", v.id);
      for (const auto& m : maps)
        if (m.path == name && m.offset == 0) v.run = m.start;
    }
    return maps;
  };
  (void)learn();
  if (auto s = im.seize_and_stop(); !s) {
    im.detach_all();
    return s.error();
  }
  // From here on every error path detaches (the destructor).
  const auto maps = learn();
  im.learn_writable(maps);  // where batch tables can go (stack_room())
  if (!im.mem.valid()) return make_error(errno, "cannot open /proc/{}/mem: {}", pid, std::strerror(errno));
  // An `svc #0` to run injected calls from: the VMM's own code.
  for (const auto& m : maps) {
    if (!m.exec || !m.read || im.svc) continue;
    std::vector<std::byte> code(64 * 1024);
    for (std::uint64_t a = m.start; a < m.end && !im.svc; a += code.size()) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(code.size(), m.end - a));
      if (!im.peek(a, code.data(), n)) break;
      if (auto at = find_svc(std::span<const std::byte>(code.data(), n))) im.svc = a + *at;
    }
  }
  if (!im.svc) return make_error(ENOEXEC, "pid {}: no `svc #0` instruction found in its executable mappings", pid);
  // Where the batch loop runs (kvm/attach/code_cave.hpp); none: one injected
  // system call per register.
  const auto peek = [&im](std::uint64_t a, void* out, std::size_t n) { return im.peek(a, out, n); };
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  if (auto cave = find_code_cave(maps, 4 * batch::kLoopCode.size(), page, peek)) {
    im.cave = *cave;
    im.cave_bytes.resize(4 * batch::kLoopCode.size());
    if (!im.peek(im.cave.addr, im.cave_bytes.data(), im.cave_bytes.size())) im.cave = {};
  }
  if (!im.cave.addr) {
    im.batching = false;
    im.batching_note = "no room for the batch loop past the end of an executable segment of the VMM";
    b->log(fmt::format("pid {}: {}; reading one injected system call per register", pid, im.batching_note));
  }

  if (b->options_.memory.empty()) {
    b->memory_ = guest_ram_from_maps(maps);
  } else {
    for (const auto& spec : b->options_.memory) {  // --mem: HVA checked, or found by size
      auto r = resolve_guest_ram(spec, maps);
      if (!r) return make_error(r.error().code, "pid {}: {}", pid, r.error().message);
      b->memory_.push_back(*r);
    }
  }
  std::sort(b->memory_.begin(), b->memory_.end(), [](const auto& x, const auto& y) { return x.gpa < y.gpa; });
  if (b->memory_.empty())
    b->log(
        fmt::format("pid {}: guest RAM not found in its mappings; memory reads fail until given with "
                    "--mem GPA:SIZE[@HVA]",
                    pid));

  for (unsigned i = 0; i < b->vcpus_.size(); ++i) {
    std::array<std::byte, kVlsBytes> buf{};
    auto s = im.one_reg(i, sve_vls(), buf, false);
    if (s)
      b->vcpus_[i].vls = VqSet::from_bytes(buf);
    else if (s.error().code != ENOENT)
      return s.error();
  }
  b->caps_ = host_debug_caps();
  im.pending.reset();  // the attach stop is not a gdb stop
  im.cost = {};        // nor are its VLS reads part of what gdb's reads cost
  return b;
}

std::string AttachBackend::describe() const {
  std::string ram;
  for (const auto& r : memory_) ram += fmt::format(" {:#x}+{:#x}@{:#x}", r.gpa, r.size, r.hva);
  return fmt::format("KVM VMM pid {} ({}): {} vCPUs, guest RAM{}", pid_, comm_of(pid_), vcpus_.size(),
                     ram.empty() ? " unknown (--mem)" : ram);
}

Status AttachBackend::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  RegRead read{vcpu, id, out, {}};
  get_regs(std::span(&read, 1));
  return read.status;
}

void AttachBackend::get_regs(std::span<RegRead> reads) {
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    auto& r = reads[i];
    if (r.vcpu >= vcpus_.size()) {
      r.status = make_error(ESRCH, "no vCPU {} (the guest has {})", r.vcpu, vcpus_.size());
    } else if (r.out.size() != reg_size(r.id)) {
      r.status = make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", r.vcpu, r.out.size(), reg_name(r.id),
                            reg_size(r.id));
    } else if (r.id == sve_vls()) {
      // Frozen by finalization: served from the copy read at attach.
      if (vcpus_[r.vcpu].vls) {
        vcpus_[r.vcpu].vls->to_bytes(r.out.first<kVlsBytes>());
        r.status = {};
      } else {
        r.status = one_reg_error(r.vcpu, r.id, false, ENOENT);
      }
    } else {
      todo.push_back(i);
    }
  }
  if (todo.empty()) return;
  impl_->pump();
  impl_->read_regs(reads, todo);
}

bool AttachBackend::batches_reads() const { return impl_->batching; }

Status AttachBackend::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  if (id == sve_vls()) return one_reg_error(vcpu, id, true, vcpus_[vcpu].vls ? EPERM : ENOENT);
  impl_->pump();
  std::vector<std::byte> copy(in.begin(), in.end());
  return impl_->one_reg(vcpu, id, copy, true);
}

namespace {

// Guest-physical [gpa, gpa + len) through the VMM's RAM ranges: io(hva,
// offset, n) moves n bytes at buffer offset `offset` and returns how many it
// moved. Stops at the first byte outside guest RAM or a short transfer;
// returns the bytes done.
template <typename Io>
std::size_t walk_ram(const std::vector<RamRange>& memory, std::uint64_t gpa, std::size_t len, Io io) {
  std::size_t done = 0;
  while (done < len) {
    const std::uint64_t a = gpa + done;
    auto it =
        std::find_if(memory.begin(), memory.end(), [&](const RamRange& r) { return a >= r.gpa && a - r.gpa < r.size; });
    if (it == memory.end()) break;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len - done, it->size - (a - it->gpa)));
    const ssize_t moved = io(it->hva + (a - it->gpa), done, n);
    if (moved <= 0) break;
    done += static_cast<std::size_t>(moved);
    if (static_cast<std::size_t>(moved) < n) break;
  }
  return done;
}

}  // namespace

Result<std::size_t> AttachBackend::read_phys(std::uint64_t gpa, std::span<std::byte> out) {
  const int fd = impl_->mem.get();
  const std::size_t done = walk_ram(memory_, gpa, out.size(), [&](std::uint64_t hva, std::size_t at, std::size_t n) {
    return ::pread(fd, out.data() + at, n, static_cast<off_t>(hva));
  });
  if (done == 0 && !out.empty())
    return make_error(EFAULT, "no guest RAM at {:#x}{}", gpa,
                      memory_.empty() ? " (guest RAM unknown: --mem GPA:SIZE[@HVA])" : "");
  return done;
}

Result<std::size_t> AttachBackend::write_phys(std::uint64_t gpa, std::span<const std::byte> in) {
  const int fd = impl_->mem.get();
  const std::size_t done = walk_ram(memory_, gpa, in.size(), [&](std::uint64_t hva, std::size_t at, std::size_t n) {
    return ::pwrite(fd, in.data() + at, n, static_cast<off_t>(hva));
  });
  if (done == 0 && !in.empty()) return make_error(EFAULT, "no guest RAM at {:#x}", gpa);
  return done;
}

std::vector<MemoryRange> AttachBackend::memory_map() const {
  std::vector<MemoryRange> out;
  for (const auto& r : memory_) {
    if (!out.empty() && out.back().gpa + out.back().size == r.gpa)
      out.back().size += r.size;
    else
      out.push_back(MemoryRange{r.gpa, r.size});
  }
  return out;
}

Status AttachBackend::set_guest_debug(unsigned vcpu, const GuestDebug& debug) {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  impl_->pump();
  if (impl_->state != Impl::State::Stopped) return make_error(EBUSY, "vCPU {} is running", vcpu);
  vcpus_[vcpu].debug = debug;
  if (impl_->applied[vcpu] == debug) return {};
  return impl_->apply_debug(vcpu, debug);
}

Status AttachBackend::resume(std::span<const unsigned> step, bool others_run) {
  auto& im = *impl_;
  im.pump();
  // Gone while stopped (killed during a stop, even in the middle of a
  // register read): the resume "runs" into the exit, which poll_stop()
  // reports, so the client hears it as when the VMM dies running (an X
  // stop reply) rather than as a failed resume.
  if (im.state == Impl::State::Exited) return {};
  if (im.state != Impl::State::Stopped) return make_error(EBUSY, "the guest is not stopped");
  for (unsigned v : step)
    if (v >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", v, vcpus_.size());
  bool any_debug = false;
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    GuestDebug want = vcpus_[v].debug;
    if (std::find(step.begin(), step.end(), v) != step.end())
      want.control |= GuestDebug::kEnable | GuestDebug::kSingleStep;
    if (im.applied[v] != want)
      if (auto s = im.apply_debug(v, want); !s) return s;
    any_debug |= want.control != 0;
  }
  im.put_cave_back();  // the VMM never runs with the loop
  im.new_stop();
  im.trace_syscalls = any_debug;
  im.reason.reset();
  im.pending.reset();
  im.first_vcpu.reset();
  im.state = Impl::State::Running;
  for (auto& [tid, t] : im.threads) {
    auto v = im.vcpu_of_thread(tid);
    if (v && !others_run && std::find(step.begin(), step.end(), *v) == step.end()) {
      t.held = true;  // stays stopped
      continue;
    }
    im.cont(tid, t);
  }
  im.arm(true);
  return {};
}

void AttachBackend::interrupt() {
  auto& im = *impl_;
  im.pump();
  if (im.state == Impl::State::Detached) {
    if (auto s = im.seize_and_stop(); !s) {
      log(s.error().message);
      im.detach_all();
      return;
    }
    im.pending = BackendStop{im.first_vcpu.value_or(0), StopReason::Interrupted, 0, 0};
    return;
  }
  if (im.state == Impl::State::Running) {
    im.begin_stop();
    im.arm(true);
  }
}

std::optional<BackendStop> AttachBackend::poll_stop() {
  auto& im = *impl_;
  im.pump();
  if (im.pending) {
    auto s = im.pending;
    im.pending.reset();
    return s;
  }
  // A VMM that is gone stays gone: every later poll (a new client's) says so.
  if (im.state == Impl::State::Exited) return BackendStop{0, StopReason::Exited, 0, 0};
  if (im.state == Impl::State::Running || im.state == Impl::State::Stopping) im.arm(true);
  return std::nullopt;
}

bool AttachBackend::running() const {
  auto& im = *impl_;
  if (static_cast<pid_t>(::syscall(SYS_gettid)) == im.tracer) im.pump();
  return im.state == Impl::State::Detached || im.state == Impl::State::Running || im.state == Impl::State::Stopping;
}

void AttachBackend::set_stop_notifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->notify = std::move(notify);
}

void AttachBackend::add_monitor_commands(MonitorRegistry& registry) {
  const auto on_off = [](std::string_view args) -> std::optional<bool> {
    if (args == "on") return true;
    if (args == "off") return false;
    return std::nullopt;
  };
  registry.add({"attach", "",
                "the attached VMM: vCPU fds, threads, guest RAM, injected system calls, trips into the VMM per stop",
                false, [this](std::string_view args) -> Result<std::string> {
                  if (!args.empty()) return make_error(EINVAL, "usage: monitor attach");
                  return monitor_report();
                }});
  registry.add({"attach batch", "on|off",
                "many registers per trip into the VMM (default), or one injected system call per register", false,
                [this, on_off](std::string_view args) -> Result<std::string> {
                  const auto on = on_off(args);
                  if (!on) return make_error(EINVAL, "usage: monitor attach batch on|off");
                  auto& im = *impl_;
                  if (*on && !im.cave.addr) return fmt::format("batched register reads: off ({})\n", im.batching_note);
                  im.batching = *on;
                  im.batching_note = im.batching ? "" : "monitor attach batch off";
                  if (!im.batching && im.state == Impl::State::Stopped) im.put_cave_back();
                  return fmt::format("batched register reads: {}\n", im.batching ? "on" : "off");
                }});
  registry.add({"attach colocate", "on|off",
                "svedbg and the VMM thread it injects on share one CPU during a stop (default), or run where the "
                "scheduler puts them",
                false, [this, on_off](std::string_view args) -> Result<std::string> {
                  const auto on = on_off(args);
                  if (!on) return make_error(EINVAL, "usage: monitor attach colocate on|off");
                  auto& im = *impl_;
                  im.colocate_on = *on;
                  if (!im.colocate_on) im.end_colocation();
                  return fmt::format("tracer and VMM thread on one CPU during a stop: {}\n",
                                     im.colocate_on ? "on" : "off");
                }});
}

std::string AttachBackend::monitor_report() {
  auto& im = *impl_;
  std::string out = describe() + "\n";
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    std::string thread = "?";
    for (const auto& [tid, fd] : im.thread_fd)
      if (fd == vcpus_[v].fd) thread = std::to_string(tid);
    out += fmt::format("vCPU {}: kvm-vcpu:{} fd {} thread {} kvm_run {:#x}\n", v, vcpus_[v].id, vcpus_[v].fd, thread,
                       vcpus_[v].run);
  }
  out += fmt::format("threads traced: {}; injected system calls: {}\n", im.threads.size(), injected_.load());
  out += fmt::format("trips into the VMM: {}; KVM ioctls: {}; batches: {} ({} registers)\n", trips_.load(),
                     kvm_ioctls_.load(), batches_.load(), batched_regs_.load());
  const auto us = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
  out += fmt::format("register reads in this stop: {} trips, {} KVM_GET_ONE_REG, {:.0f} us\n", im.cost.read_trips,
                     im.cost.reg_ioctls, us(im.cost.read_time));
  if (im.have_last_cost)
    out += fmt::format(
        "register reads in the previous stop: {} trips, {} KVM_GET_ONE_REG, {:.0f} us; other trips: {}\n",
        im.last_cost.read_trips, im.last_cost.reg_ioctls, us(im.last_cost.read_time), im.last_cost.other_trips);
  if (im.batching)
    out += fmt::format(
        "batched register reads: on; loop at {:#x} ({}, past its code; {} this stop), tables on the "
        "stack\n",
        im.cave.addr, im.cave.path, im.loop_in_cave ? "written" : "not written");
  else
    out += fmt::format("batched register reads: off ({})\n", im.batching_note);
  if (!im.colocate_on)
    out += "CPU colocation: off\n";
  else if (im.pin_cpu >= 0)
    out += fmt::format("CPU colocation: on (svedbg on CPU {} in this stop, each trip's VMM thread too)\n", im.pin_cpu);
  else
    out += "CPU colocation: on\n";
  return out;
}

Detached AttachBackend::detach() {
  impl_->detach_all();  // finds a VMM that died while it ran: stopping it reaps the exits
  return impl_->state == Impl::State::Exited ? Detached::GuestGone : Detached::Resumed;
}

void AttachBackend::kill() {
  log("kill: the VM belongs to its VMM; detaching, the VMM runs on (stop it through the VMM)");
  detach();
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
