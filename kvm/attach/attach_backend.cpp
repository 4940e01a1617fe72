// The attach-by-pid KVM backend (see attach_backend.hpp): attach() as a list
// of steps, and the Backend interface over the parts (attach_impl.hpp).
// The monitor commands are in attach_monitor.cpp.
#if defined(__aarch64__)

#include "kvm/attach/attach_backend.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "kvm/attach/attach_impl.hpp"
#include "kvm/debug_exit.hpp"
#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::kvm {

AttachBackend::AttachBackend(pid_t pid, AttachOptions options) : pid_(pid), options_(std::move(options)) {}

AttachBackend::~AttachBackend() {
  if (impl_) impl_->detach_all(vcpu_count());
}

void AttachBackend::log(const std::string& line) const {
  if (options_.log)
    options_.log(line);
  else
    std::fprintf(stderr, "svedbg: %s\n", line.c_str());
}

namespace {

Status check_pid(pid_t pid) {
  if (pid <= 0) return make_error(EINVAL, "--pid {}: not a process id", pid);
  if (::kill(pid, 0) != 0 && errno == ESRCH) return make_error(ESRCH, "no process with pid {}", pid);
  return {};
}

// The VMM's memory and each vCPU's kvm_run mapping. Opening /proc/PID/mem
// needs ptrace rights; where only a tracer has them (Yama ptrace_scope 1),
// it opens only once seized, and the first stop cannot rewind (logged there).
std::vector<MapEntry> learn_maps(pid_t pid, VmmMemory& mem, std::vector<VmmVcpu>& vcpus) {
  (void)mem.open(pid);
  auto maps = parse_maps(read_text(fmt::format("/proc/{}/maps", pid)));
  find_kvm_run_maps(vcpus, maps);
  return maps;
}

}  // namespace

// Seizes and stops every thread, knowing the kvm_run mappings first so
// that an interrupted KVM_RUN can be rewound (ThreadTracker::maybe_rewind).
Status AttachBackend::seize() {
  (void)learn_maps(pid_, impl_->mem, vcpus_);
  if (auto s = impl_->threads.seize_and_stop(); !s) {
    impl_->detach_all(vcpu_count());
    return s;
  }
  return {};
}

// An `svc #0` to run injected calls from, and the cave for the batch loop
// (none: one injected system call per register).
Status AttachBackend::find_code_sites(const std::vector<MapEntry>& maps) {
  auto& im = *impl_;
  const PeekFn peek = [&im](std::uint64_t a, void* out, std::size_t n) { return im.mem.peek(a, out, n); };
  const auto svc = find_syscall_site(maps, peek);
  if (!svc) return make_error(ENOEXEC, "pid {}: no `svc #0` instruction found in its executable mappings", pid_);
  im.injector.set_syscall_site(*svc);
  im.batches.set_cave(find_loop_cave(maps, static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)), peek));
  return {};
}

// VLS once per vCPU: frozen by finalization, served from this copy. Read
// for every vCPU in one batch (one trip however many vCPUs), where the
// batch reader can (else one injected call each).
Status AttachBackend::read_vls() {
  std::vector<std::array<std::byte, kVlsBytes>> bufs(vcpus_.size());
  std::vector<RegRead> reads;
  std::vector<std::size_t> todo;
  for (unsigned i = 0; i < vcpus_.size(); ++i) {
    reads.push_back(RegRead{i, sve_vls(), bufs[i], {}});
    todo.push_back(i);
  }
  impl_->batches.read_regs(reads, todo);
  for (unsigned i = 0; i < vcpus_.size(); ++i) {
    if (reads[i].status)
      vcpus_[i].vls = VqSet::from_bytes(bufs[i]);
    else if (reads[i].status.error().code != ENOENT)
      return reads[i].status;
  }
  return {};
}

Result<std::unique_ptr<AttachBackend>> AttachBackend::attach(pid_t pid, AttachOptions options) {
  if (auto s = check_pid(pid); !s) return s.error();
  std::unique_ptr<AttachBackend> b(new AttachBackend(pid, std::move(options)));
  auto vcpus = find_vcpu_fds(pid, b->logger());
  if (!vcpus) return vcpus.error();
  b->vcpus_ = std::move(*vcpus);
  b->impl_ = std::make_unique<Impl>(pid, b->vcpus_, b->counters_, b->options_.faults, b->logger());
  if (auto s = b->seize(); !s) return s.error();
  // From here on every error path detaches (the destructor).
  auto& im = *b->impl_;
  const auto maps = learn_maps(pid, im.mem, b->vcpus_);
  im.batches.writable().learn(maps);  // where batch tables can go
  if (!im.mem.valid()) return make_error(errno, "cannot open /proc/{}/mem: {}", pid, std::strerror(errno));
  if (auto s = b->find_code_sites(maps); !s) return s.error();
  auto ram = find_guest_ram(pid, b->options_.memory, maps, b->logger());
  if (!ram) return ram.error();
  b->memory_ = std::move(*ram);
  if (auto s = b->read_vls(); !s) return s.error();
  b->caps_ = host_debug_caps();
  (void)im.threads.take_pending();  // the attach stop is not a gdb stop
  im.cost.reset();                  // nor are its VLS reads part of what gdb's reads cost
  return b;
}

std::string AttachBackend::describe() const {
  std::string ram;
  for (const auto& r : memory_) ram += fmt::format(" {:#x}+{:#x}@{:#x}", r.gpa, r.size, r.hva);
  return fmt::format("KVM VMM pid {} ({}): {} vCPUs, guest RAM{}", pid_, comm_of(pid_), vcpus_.size(),
                     ram.empty() ? " unknown (--mem)" : ram);
}

std::vector<AttachedVcpu> AttachBackend::vcpus_info() {
  impl_->threads.pump();
  std::vector<std::array<std::byte, 8>> zcr(vcpus_.size());
  std::vector<RegRead> reads;
  for (unsigned v = 0; v < vcpus_.size(); ++v)
    if (vcpus_[v].vls) reads.push_back(RegRead{v, zcr_el1(), zcr[v], {}});
  const bool stopped = impl_->threads.state() == ThreadTracker::State::Stopped;
  if (stopped) get_regs(reads);
  std::vector<AttachedVcpu> out;
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    std::optional<std::uint64_t> value;
    for (const auto& r : reads)
      if (stopped && r.vcpu == v && r.status) {
        value = 0;
        for (std::size_t k = 0; k < 8; ++k) *value |= std::uint64_t(std::to_integer<unsigned>(zcr[v][k])) << (8 * k);
      }
    out.push_back(attached_vcpu(vcpus_[v], impl_->threads.thread_of_fd(vcpus_[v].fd), value));
  }
  return out;
}

Status AttachBackend::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  RegRead read{vcpu, id, out, {}};
  get_regs(std::span(&read, 1));
  return read.status;
}

void AttachBackend::get_regs(std::span<RegRead> reads) {
  impl_->threads.pump();
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    auto& r = reads[i];
    if (auto c = check_vcpu(r.vcpu); !c) {
      r.status = c;
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
  impl_->threads.prefer_vcpu(reads[todo.front()].vcpu);  // non-stop: through the stopped vCPU's own thread
  impl_->batches.read_regs(reads, todo);
}

bool AttachBackend::batches_reads() const { return impl_->batches.enabled(); }

Status AttachBackend::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  impl_->threads.pump();
  if (auto c = check_vcpu(vcpu); !c) return c;
  if (id == sve_vls()) return one_reg_error(vcpu, id, true, vcpus_[vcpu].vls ? EPERM : ENOENT);
  impl_->threads.prefer_vcpu(vcpu);
  std::vector<std::byte> copy(in.begin(), in.end());
  return impl_->injector.one_reg(vcpu, id, copy, true);
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
  const int fd = impl_->mem.fd();
  const std::size_t done = walk_ram(memory_, gpa, out.size(), [&](std::uint64_t hva, std::size_t at, std::size_t n) {
    return ::pread(fd, out.data() + at, n, static_cast<off_t>(hva));
  });
  if (done == 0 && !out.empty())
    return make_error(EFAULT, "no guest RAM at {:#x}{}", gpa,
                      memory_.empty() ? " (guest RAM unknown: --mem GPA:SIZE[@HVA])" : "");
  return done;
}

Result<std::size_t> AttachBackend::write_phys(std::uint64_t gpa, std::span<const std::byte> in) {
  const int fd = impl_->mem.fd();
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
  impl_->threads.pump();
  if (impl_->threads.non_stop() && impl_->threads.vcpu_running(vcpu)) return set_guest_debug_running(vcpu, debug);
  if (auto c = check_vcpu(vcpu); !c) return c;
  if (!impl_->threads.non_stop() && impl_->threads.state() != ThreadTracker::State::Stopped)
    return make_error(EBUSY, "vCPU {} is running", vcpu);
  vcpus_[vcpu].debug = debug;
  if (impl_->injector.applied(vcpu) == debug) return {};
  impl_->threads.prefer_vcpu(vcpu);
  return impl_->injector.apply_debug(vcpu, debug);
}

Status AttachBackend::resume(std::span<const unsigned> step, bool others_run) {
  auto& im = *impl_;
  im.threads.pump();
  // Gone while stopped (killed during a stop, even in the middle of a
  // register read): the resume "runs" into the exit, which poll_stop()
  // reports, so the client hears it as when the VMM dies running (an X
  // stop reply) rather than as a failed resume.
  if (im.threads.state() == ThreadTracker::State::Exited) return {};
  if (im.threads.state() != ThreadTracker::State::Stopped) return make_error(EBUSY, "the guest is not stopped");
  for (unsigned v : step)
    if (v >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", v, vcpus_.size());
  bool any_debug = false;
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    GuestDebug want = vcpus_[v].debug;
    if (std::find(step.begin(), step.end(), v) != step.end())
      want.control |= GuestDebug::kEnable | GuestDebug::kSingleStep;
    if (im.injector.applied(v) != want)
      if (auto s = im.injector.apply_debug(v, want); !s) return s;
    any_debug |= want.control != 0;
  }
  im.batches.put_cave_back();  // the VMM never runs with the loop
  im.new_stop();
  im.threads.resume(step, others_run, /*trace_syscalls=*/any_debug);
  return {};
}

void AttachBackend::interrupt() {
  auto& im = *impl_;
  im.threads.pump();
  if (im.threads.state() == ThreadTracker::State::Detached) {
    // Seized anew (a new client); the stop completes in pump(), as one of
    // a running VMM does, so that interrupt() never waits for it.
    if (auto s = im.threads.seize_and_begin_stop(); !s) {
      log(s.error().message);
      im.detach_all(vcpu_count());
      return;
    }
    im.watcher.arm(true);
    return;
  }
  if (im.threads.state() == ThreadTracker::State::Running) {
    im.threads.begin_stop();
    im.watcher.arm(true);
  }
}

std::optional<BackendStop> AttachBackend::poll_stop() {
  auto& im = *impl_;
  im.threads.pump();
  if (auto s = im.threads.take_pending()) return s;
  // A VMM that is gone stays gone: every later poll (a new client's) says
  // so; in non-stop mode once (the session polls until nothing is left).
  const auto state = im.threads.state();
  if (state == ThreadTracker::State::Exited && !im.threads.non_stop()) return BackendStop{0, StopReason::Exited, 0, 0};
  if (state == ThreadTracker::State::Running || state == ThreadTracker::State::Stopping) im.watcher.arm(true);
  return std::nullopt;
}

bool AttachBackend::running() const {
  auto& im = *impl_;
  if (static_cast<pid_t>(::syscall(SYS_gettid)) == im.threads.tracer()) im.threads.pump();
  if (im.threads.non_stop()) {
    for (unsigned v = 0; v < vcpus_.size(); ++v)
      if (im.threads.vcpu_running(v)) return true;
    return false;
  }
  const auto state = im.threads.state();
  return state == ThreadTracker::State::Detached || state == ThreadTracker::State::Running ||
         state == ThreadTracker::State::Stopping;
}

void AttachBackend::set_stop_notifier(std::function<void()> notify) { impl_->watcher.set_notifier(std::move(notify)); }

Detached AttachBackend::detach() {
  impl_->detach_all(vcpu_count());  // finds a VMM that died while it ran: stopping it reaps the exits
  return impl_->threads.state() == ThreadTracker::State::Exited ? Detached::GuestGone : Detached::Resumed;
}

void AttachBackend::kill() {
  log("kill: the VM belongs to its VMM; detaching, the VMM runs on (stop it through the VMM)");
  detach();
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
