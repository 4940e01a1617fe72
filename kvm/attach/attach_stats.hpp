// kvm/attach/attach_stats: what attaching costs the VMM, counted, and the
// `monitor attach` report built from those counts.
//
// Contract: AttachCounters are totals since attach (atomic: read from any
// thread, written only by the tracer thread): system calls the VMM ran for
// svedbg (all KVM ioctls), trips into the VMM (an injected system call run
// alone, or one run of the batch loop), batches and the registers they
// read. StopCostMeter splits one stop's trips into register reads and other
// trips (KVM_SET_ONE_REG, KVM_SET_GUEST_DEBUG) and times the reads; a
// ReadScope marks register-read work, nested scopes count once;
// new_stop() keeps the finished stop's cost as the previous one.
// format_attach_report() is the text of `monitor attach` for an
// AttachReport; its "vCPU I: kvm-vcpu:N fd F thread T|? kvm_run 0x..."
// lines are stable (scripts read them), and so are "last all-stop: N
// threads in X ms" and "svedbg memory: VmRSS N kB, VmHWM N kB" (bench/).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svedbg::kvm {

struct AttachTotals {
  std::uint64_t injected = 0;      // system calls the VMM ran for svedbg
  std::uint64_t kvm_ioctls = 0;    // of which KVM ioctls (all of them)
  std::uint64_t trips = 0;         // trips into the VMM
  std::uint64_t batches = 0;       // runs of the batch loop
  std::uint64_t batched_regs = 0;  // registers read by them
};

struct AttachCounters {
  std::atomic<std::uint64_t> injected{0};
  std::atomic<std::uint64_t> kvm_ioctls{0};
  std::atomic<std::uint64_t> trips{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> batched_regs{0};
  // One KVM ioctl the VMM ran for svedbg.
  void count_ioctl() {
    ++injected;
    ++kvm_ioctls;
  }
  AttachTotals totals() const {
    return {injected.load(), kvm_ioctls.load(), trips.load(), batches.load(), batched_regs.load()};
  }
};

// What one stop cost.
struct StopCost {
  std::uint64_t read_trips = 0;   // trips for register reads
  std::uint64_t reg_ioctls = 0;   // KVM_GET_ONE_REG run
  std::uint64_t other_trips = 0;  // KVM_SET_ONE_REG, KVM_SET_GUEST_DEBUG
  std::chrono::nanoseconds read_time{0};
};

class StopCostMeter {
 public:
  // One trip into the VMM: a read trip inside a ReadScope, else another.
  void count_trip();
  // One KVM_GET_ONE_REG run for a register read (inside a ReadScope).
  void count_reg_ioctl() { ++current_.reg_ioctls; }
  bool reading() const { return reading_; }
  // The guest runs again: this stop's cost becomes the previous one.
  void new_stop();
  // Forgets this stop's cost (work of attach(), not of a gdb stop).
  void reset() { current_ = {}; }
  const StopCost& current() const { return current_; }
  std::optional<StopCost> last() const { return last_; }

  // Marks register-read work; the outermost scope adds its time.
  class ReadScope {
   public:
    explicit ReadScope(StopCostMeter& m) : m_(m), was_(m.reading_) { m_.reading_ = true; }
    ~ReadScope();
    ReadScope(const ReadScope&) = delete;
    ReadScope& operator=(const ReadScope&) = delete;

   private:
    StopCostMeter& m_;
    bool was_;
    std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  };

 private:
  StopCost current_;
  std::optional<StopCost> last_;
  bool reading_ = false;
};

// A process's resident memory (proc(5): VmRSS now, VmHWM its peak), kB.
struct DaemonMemory {
  std::uint64_t rss_kb = 0;
  std::uint64_t hwm_kb = 0;
};
// From the text of a /proc/PID/status; nullopt without both fields.
std::optional<DaemonMemory> parse_memory(std::string_view status);
// This process's (/proc/self/status).
std::optional<DaemonMemory> own_memory();

// Everything `monitor attach` shows.
struct AttachReport {
  std::string description;  // AttachBackend::describe()
  struct Vcpu {
    unsigned id = 0;  // kvm-vcpu:N
    int fd = -1;
    std::optional<pid_t> thread;  // nullopt: not known yet ("?")
    std::uint64_t run = 0;        // kvm_run mapping in the VMM
  };
  std::vector<Vcpu> vcpus;
  std::size_t threads_traced = 0;
  AttachTotals totals;
  StopCost this_stop;
  std::optional<StopCost> last_stop;
  bool batching = false;
  std::uint64_t cave_addr = 0;  // where the batch loop runs (batching on)
  std::string cave_path;
  bool loop_written = false;  // the loop is in the cave in this stop
  std::string batching_note;  // why batching is off
  bool colocate = false;
  int pin_cpu = -1;  // the CPU of this stop's trips, -1: none yet
  // The last all-stop: first PTRACE_INTERRUPT to the last thread's stop.
  std::optional<std::chrono::nanoseconds> last_all_stop;
  // svedbg's own memory (/proc/self/status VmRSS and VmHWM, kB); nullopt
  // when unreadable.
  std::optional<DaemonMemory> memory;
};

std::string format_attach_report(const AttachReport& report);

}  // namespace svedbg::kvm
