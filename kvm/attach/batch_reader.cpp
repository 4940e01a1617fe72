// Batched register reads through the loop in the code cave (see batch_reader.hpp).
#if defined(__aarch64__)

#include "kvm/attach/batch_reader.hpp"

#include <linux/kvm.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kvm/attach/batch_plan.hpp"

namespace svedbg::kvm {

static_assert(batch::kKvmGetOneReg == KVM_GET_ONE_REG);

BatchReader::BatchReader(const TripParts& parts, Injector& injector, const std::vector<VmmVcpu>& vcpus,
                         FaultHooks hooks, LogFn log)
    : parts_(parts), injector_(injector), vcpus_(vcpus), hooks_(std::move(hooks)), log_(std::move(log)) {}

void BatchReader::set_cave(std::optional<LoopCave> cave) {
  if (cave) {
    cave_ = std::move(*cave);
    return;
  }
  cave_ = {};
  batching_ = false;
  note_ = "no room for the batch loop past the end of an executable segment of the VMM";
  log_(fmt::format("pid {}: {}; reading one injected system call per register", parts_.pid, note_));
}

void BatchReader::set_enabled(bool on) {
  if (on && !has_cave()) return;
  batching_ = on;
  note_ = on ? "" : "monitor attach batch off";
  if (!on && parts_.threads.state() == ThreadTracker::State::Stopped) put_cave_back();
}

void BatchReader::vmm_exited() {
  loop_in_cave_ = false;
  writable_.forget();
}

Status BatchReader::write_loop() {
  if (loop_in_cave_) return {};
  const auto code = batch::code_bytes();
  loop_in_cave_ = true;  // even a partial write is put back
  if (!parts_.mem.poke(cave_.cave.addr, code.data(), code.size())) {
    const int err = errno;
    put_cave_back();
    return make_error(err, "cannot write the batch loop to the VMM at {:#x} ({}): {}", cave_.cave.addr, cave_.cave.path,
                      std::strerror(err));
  }
  return {};
}

void BatchReader::put_cave_back() {
  if (!loop_in_cave_) return;
  loop_in_cave_ = false;
  if (!parts_.mem.poke(cave_.cave.addr, cave_.own_bytes.data(), cave_.own_bytes.size()))
    log_(
        fmt::format("cannot put the VMM's own bytes back at {:#x} ({}) over the batch loop: {} (harmless: the VMM "
                    "never runs them)",
                    cave_.cave.addr, cave_.cave.path, std::strerror(errno)));
}

bool BatchReader::has_loop_thread() {
  for (pid_t c : parts_.threads.injection_threads())
    if (parts_.threads.trap_safe(c)) return true;
  return false;
}

// One trip through the loop: as many of `calls` (from the front) as the
// loop thread's stack has room for.
Result<BatchReader::BatchRun> BatchReader::run_batch(std::span<const batch::Call> calls) {
  if (auto s = parts_.threads.check_stopped(); !s) return s.error();
  if (auto s = write_loop(); !s) return s.error();
  Trip trip(parts_, Trip::Kind::Loop);
  if (!trip.status()) return trip.status().error();
  const pid_t tid = trip.thread();
  const user_pt_regs& saved = trip.saved();
  auto room = writable_.stack_room(parts_.pid, tid, saved.sp, batch::kMaxTableBytes);
  if (!room) return make_error(EAGAIN, "{}", room.error().message);
  auto plan = place_batch(*room, calls, tid, saved.sp);
  if (!plan) return plan.error();
  BatchRun run{std::move(*plan), {}};
  const auto written = trip.write_scratch(run.plan.table, run.plan.table_bytes);
  if (written != Trip::Scratch::Written) {
    writable_.forget();
    if (written == Trip::Scratch::Unreadable)
      return make_error(EAGAIN, "thread {}: cannot read the stack at {:#x} for the batch table", tid, run.plan.table);
    return make_error(EAGAIN, "thread {}: cannot write the batch table at {:#x} in the VMM", tid, run.plan.table);
  }
  user_pt_regs r = saved;
  r.regs[0] = 0;  // not an -ERESTART* value, whatever stop the thread was in
  r.regs[19] = run.plan.table;
  r.regs[20] = run.plan.count;
  if (auto s = trip.run_loop(cave_.cave.addr, r, hooks_, parts_.counters.batches + 1); !s) return s.error();
  run.back.resize(run.plan.read_bytes);
  const bool read_ok = trip.read(run.plan.table, run.back);
  for (std::size_t i = executed(run.plan, run.back, read_ok); i > 0; --i) {
    parts_.counters.count_ioctl();
    parts_.cost.count_reg_ioctl();
  }
  if (!read_ok) return make_error(EFAULT, "cannot read the batch results at {:#x} in the VMM", run.plan.table);
  return run;
}

std::size_t BatchReader::read_batched(std::span<Backend::RegRead> reads, const std::vector<std::size_t>& todo,
                                      std::optional<Error>& gone) {
  const auto calls = batch_calls(reads, todo, vcpus_);
  std::size_t done = 0;
  while (done < calls.size()) {
    auto run = run_batch(std::span<const batch::Call>(calls).subspan(done));
    if (!run) {
      if (run.error().code == ESRCH || parts_.threads.state() != ThreadTracker::State::Stopped) {
        gone = run.error();  // the VMM is gone
        return done;
      }
      // Whatever went wrong, the registers can still be read one by one.
      if (run.error().code != EAGAIN) {
        batching_ = false;
        note_ = run.error().message;
      }
      log_(fmt::format("{}; reading one injected system call per register{}", run.error().message,
                       batching_ ? "" : " from now on"));
      return done;
    }
    ++parts_.counters.batches;
    parts_.counters.batched_regs += run->plan.count;
    take_results(run->plan, run->back, reads, todo, done);
    done += run->plan.count;
  }
  return done;
}

void BatchReader::read_regs(std::span<Backend::RegRead> reads, const std::vector<std::size_t>& todo) {
  StopCostMeter::ReadScope scope(parts_.cost);
  const auto fail_from = [&](std::size_t from, const Error& why) {
    for (std::size_t k = from; k < todo.size(); ++k) reads[todo[k]].status = why;
  };
  if (auto s = parts_.threads.check_stopped(); !s) return fail_from(0, s.error());
  bool batched = batching_;
  if (batched && !has_loop_thread()) {
    if (!warned_no_loop_thread_)
      log_(
          "no stopped thread of the VMM can run the batch loop (SIGTRAP blocked or ignored in each); reading "
          "one injected system call per register");
    warned_no_loop_thread_ = true;
    batched = false;
  }
  std::size_t done = 0;
  if (batched) {
    std::optional<Error> gone;
    done = read_batched(reads, todo, gone);
    if (gone) return fail_from(done, *gone);
  }
  for (std::size_t k = done; k < todo.size(); ++k) {
    auto& rd = reads[todo[k]];
    rd.status = injector_.one_reg(rd.vcpu, rd.id, rd.out, false);
    if (!rd.status && rd.status.error().code == ESRCH) return fail_from(k + 1, rd.status.error());  // VMM gone
  }
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
