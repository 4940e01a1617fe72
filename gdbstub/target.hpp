// gdbstub::Target: what the remote-protocol layer needs from a debuggee.
//
// Contract: everything is expressed in GDB terms (thread ids >= 1, GDB
// register numbers from the target description, raw little-endian register
// bytes, addresses as gdb sends them). The stub never learns whether the
// target is a simulated guest, a KVM VM or a core file. Calls come from one
// thread (the session's); only the stop notifier may be invoked from another
// thread, and it must only schedule a later call to poll_stop(). Failures are
// errno-style Errors; the session turns them into `Exx` replies in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/detached.hpp"
#include "common/result.hpp"

namespace svedbg::gdbstub {

using ThreadId = std::uint64_t;  // 1-based; 0 = "any", -1 (all ones) = "all"
using Bytes = std::vector<std::byte>;

// Signals as GDB numbers them in stop replies (gdb/signals.def).
enum class Signal : std::uint8_t { None = 0, Int = 2, Trap = 5, Kill = 9 };

// Why a thread stopped, as the stop reply tells gdb ("Stop Reply Packets":
// swbreak, hwbreak, watch, rwatch, awatch).
enum class StopReason { Signal, SwBreak, HwBreak, Watch, ReadWatch, AccessWatch };

struct StopEvent {
  ThreadId thread = 1;
  Signal signal = Signal::Trap;
  StopReason reason = StopReason::Signal;
  std::uint64_t watch_addr = 0;  // for the watchpoint reasons
  // The guest is gone (the VMM exited or was killed): reported as
  // "X<signal>" ("Stop Reply Packets"), after which gdb forgets the process.
  bool exited = false;
};

// Z/z types (Packets, 'Z0'..'Z4').
enum class BreakpointType : unsigned { Software = 0, Hardware = 1, Write = 2, Read = 3, Access = 4 };

enum class ResumeKind { Continue, Step, Stop };

// One vCont action: `thread` nullopt means "every thread without its own
// action" (the trailing `vCont;c` form). The session resolves `t` (Stop)
// itself ("vCont packet": each thread takes its leftmost matching action):
// resume() is only called with Continue and Step actions, at least one.
struct ResumeAction {
  ResumeKind kind = ResumeKind::Continue;
  std::optional<ThreadId> thread;
};

// Non-stop run control ("Remote Non-Stop"), an optional capability of a
// Target (Target::non_stop()): threads stop and resume one at a time while
// the others run. While on, Target::poll_stop() returns each thread's stop
// as it happens (the notifier fires for each), and resume()/interrupt() are
// not used. Registers of a running thread are refused (EBUSY), never read
// stale; memory stays readable through a stopped thread.
class NonStopTarget {
 public:
  virtual ~NonStopTarget() = default;
  // QNonStop:1 (every thread must be stopped, as after attach; the target
  // may then let threads run again: `?` tells the client which are
  // stopped) or QNonStop:0 (threads still running are stopped, stops not
  // yet polled are dropped).
  virtual Status set_non_stop(bool on) = 0;
  // Resumes one stopped thread (Continue or Step); EBUSY if it runs.
  virtual Status resume_thread(ThreadId tid, ResumeKind kind) = 0;
  // Asks one running thread to stop; its stop arrives through poll_stop()
  // with `signal` (vCont;t: Signal::None, vCtrlC: Signal::Int) unless it
  // stopped for another reason first. No effect on a stopped thread.
  virtual Status stop_thread(ThreadId tid, Signal signal) = 0;
  virtual bool thread_running(ThreadId tid) = 0;
};

class Target {
 public:
  virtual ~Target() = default;

  // Threads (= vCPUs), in gdb order.
  virtual std::vector<ThreadId> threads() = 0;
  virtual bool thread_alive(ThreadId tid) = 0;
  // Short text for qThreadExtraInfo / qXfer:threads, e.g. "vCPU 2, VL 512 bits".
  virtual std::string thread_extra_info(ThreadId tid) = 0;
  // The guest CPU that thread `tid` (one of threads()) is, for its name
  // ("vCPU N") and core in qXfer:threads: tid - 1 unless only some of the
  // guest's CPUs are threads.
  virtual unsigned thread_cpu(ThreadId tid) = 0;

  // Whole documents for qXfer:features:read (annex "target.xml", ...).
  // The session does offset/length chunking.
  virtual Result<std::string> features_document(std::string_view annex) = 0;

  // Registers by GDB number; sizes follow the description gdb was given.
  virtual Result<Bytes> read_register(ThreadId tid, unsigned regnum) = 0;
  virtual Status write_register(ThreadId tid, unsigned regnum, std::span<const std::byte> data) = 0;
  // The `g`/`G` block: every register of the description in number order.
  virtual Result<Bytes> read_all_registers(ThreadId tid) = 0;
  virtual Status write_all_registers(ThreadId tid, std::span<const std::byte> data) = 0;
  // Registers sent with every stop reply (pc, sp, x29, vg as gdbserver does).
  virtual std::vector<unsigned> expedited_registers(ThreadId tid) = 0;

  // Memory as seen by the thread; a short result is a partial read.
  virtual Result<Bytes> read_memory(ThreadId tid, std::uint64_t addr, std::size_t len) = 0;
  virtual Status write_memory(ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) = 0;

  // Breakpoints and watchpoints (Z/z). `kind` is the instruction size for
  // breakpoints and the length in bytes for watchpoints. An ENOSYS error
  // means "this type is not supported" (the stub replies empty, as the
  // protocol asks); other errors are `Exx`.
  virtual Status insert_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) = 0;
  virtual Status remove_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) = 0;

  // A client connected: stop every vCPU (all-stop) and remember why, for `?`.
  virtual Status attach() = 0;
  // The features the client announced in qSupported ("qSupported":
  // `name+`, `name-`, `name?` or `name=value`, as sent), each time it sends
  // one (gdb and lldb: once per connection, before they read the target
  // description). Clients can be told apart by them (gdb-multiarch 13.1
  // sends `qRelocInsn+`; lldb 14.0.6 does not).
  virtual void client_features(std::span<const std::string> features) { (void)features; }

  // Run control (all-stop). resume() returns at once; the stop arrives
  // through poll_stop() after the notifier fired (or immediately).
  virtual Status resume(std::span<const ResumeAction> actions) = 0;
  virtual void interrupt() = 0;
  virtual std::optional<StopEvent> poll_stop() = 0;
  virtual void set_stop_notifier(std::function<void()> notify) = 0;
  // The reason for the current (last) stop, for `?`.
  virtual StopEvent last_stop() = 0;

  // Non-stop run control, or nullptr when the target offers none (a core
  // file, a backend without per-vCPU run control).
  virtual NonStopTarget* non_stop() { return nullptr; }

  // `monitor ...` text; output is printed by gdb as is.
  virtual Result<std::string> monitor(std::string_view command) = 0;

  // Session end: detach leaves the guest running as it was before gdb came
  // and says what became of it (logged when a client drops); kill is gdb's
  // `kill` (the backend decides what that means).
  virtual Detached detach() = 0;
  virtual void kill() = 0;
};

}  // namespace svedbg::gdbstub
