// kvm/attach/batch_reader: many KVM_GET_ONE_REG in one trip into the VMM
// (arm64 only; the loop and its table: inject_batch.hpp, planning:
// batch_plan.hpp).
//
// Contract: read_regs(reads, todo) gives every read reads[i], i in `todo`
// (sizes checked), its own status: through the batch loop where a thread
// can run it, else (and for whatever a failed batch left) one injected
// ioctl per register; once the VMM is gone (or was never stopped) each read
// still outstanding fails with that error. A batch that fails other than
// for want of room or of a thread (EAGAIN) turns batching off for good
// (note() says why). The loop's code goes into the code cave found at
// attach (code_cave.hpp: executable bytes the VMM never runs) at the first
// batch of a stop, and put_cave_back() puts the cave's own bytes back
// before the VMM runs again (every resume and detach); both are writes
// through /proc/PID/mem, not trips; were svedbg killed in between, the
// loop would stay only where the VMM never runs. Each trip's table goes on
// the loop thread's stack below its sp (WritableMaps::stack_room()), whose
// bytes are put back after the trip. So a stop's register reads cost one
// trip per batch and nothing else.
#pragma once

#if defined(__aarch64__)

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/injected_calls.hpp"
#include "kvm/attach/inject_batch.hpp"
#include "kvm/attach/trip.hpp"
#include "kvm/attach/vmm_proc.hpp"
#include "kvm/backend.hpp"

namespace svedbg::kvm {

class BatchReader {
 public:
  BatchReader(const TripParts& parts, Injector& injector, const std::vector<VmmVcpu>& vcpus, FaultHooks hooks,
              LogFn log);

  // Where the loop runs; nullopt: batching off (logged).
  void set_cave(std::optional<LoopCave> cave);
  WritableMaps& writable() { return writable_; }
  bool has_cave() const { return cave_.cave.addr != 0; }
  const CodeCave& cave() const { return cave_.cave; }
  bool loop_written() const { return loop_in_cave_; }
  bool enabled() const { return batching_; }
  const std::string& note() const { return note_; }
  // `monitor attach batch on|off`; on needs a cave. The loop leaves the
  // cave when turned off during a stop.
  void set_enabled(bool on);
  void put_cave_back();
  void vmm_exited();  // the cave and the stacks went with it

  void read_regs(std::span<Backend::RegRead> reads, const std::vector<std::size_t>& todo);

 private:
  struct BatchRun {
    batch::Plan plan;
    std::vector<std::byte> back;
  };
  Status write_loop();
  bool has_loop_thread();
  Result<BatchRun> run_batch(std::span<const batch::Call> calls);
  // Batches from the front of todo; how many reads they settled. Stops at
  // a failed batch; `gone` when the VMM is.
  std::size_t read_batched(std::span<Backend::RegRead> reads, const std::vector<std::size_t>& todo,
                           std::optional<Error>& gone);

  TripParts parts_;
  Injector& injector_;
  const std::vector<VmmVcpu>& vcpus_;
  FaultHooks hooks_;
  LogFn log_;
  LoopCave cave_;              // cave.addr 0: none found
  bool loop_in_cave_ = false;  // the loop is there (this stop)
  bool batching_ = true;       // off: `monitor attach batch off`, no code cave, or the loop failed
  std::string note_;           // why it is off
  WritableMaps writable_;
  bool warned_no_loop_thread_ = false;
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
