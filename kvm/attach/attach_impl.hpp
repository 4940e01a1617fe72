// kvm/attach/attach_impl: the parts an AttachBackend is made of, wired
// together (arm64 only; used by attach_backend.cpp and attach_monitor.cpp).
//
// Contract: members are built in order, each from those before it. When the
// VMM exits, the batch loop and the stacks are gone with it and no thread
// stays pinned. new_stop(): the VMM runs again (the stop's cost is kept,
// per-stop thread state forgotten, colocation ended). detach_all(): stops
// everyone, clears guest debug, puts the cave back and PTRACE_DETACHes.
#pragma once

#if defined(__aarch64__)

#include "kvm/attach/attach_backend.hpp"
#include "kvm/attach/batch_reader.hpp"
#include "kvm/attach/colocation.hpp"
#include "kvm/attach/injected_calls.hpp"
#include "kvm/attach/ptrace_threads.hpp"
#include "kvm/attach/stop_watcher.hpp"
#include "kvm/attach/trip.hpp"
#include "kvm/attach/vmm_proc.hpp"

namespace svedbg::kvm {

struct AttachBackend::Impl {
  Impl(pid_t pid, const std::vector<VmmVcpu>& vcpus, AttachCounters& counters, const FaultHooks& faults, LogFn logger)
      : log(std::move(logger)),
        colocation(log),
        threads(pid, vcpus, mem, watcher, log,
                [this] {
                  batches.vmm_exited();
                  colocation.end();
                }),
        parts{pid, threads, colocation, mem, counters, cost},
        injector(parts, vcpus),
        batches(parts, injector, vcpus, faults, log) {}

  void new_stop() {
    cost.new_stop();
    threads.new_stop();
    colocation.end();
  }

  void detach_all(unsigned vcpu_count) {
    using State = ThreadTracker::State;
    if (threads.state() == State::Detached || threads.state() == State::Exited) return;
    if (!threads.stop_all(5000)) log("detach: not every thread stopped within 5 s; detaching the stopped ones");
    if (threads.state() == State::Stopped) {
      for (unsigned v = 0; v < vcpu_count; ++v) {
        if (injector.applied(v).control == 0) continue;
        if (auto s = injector.apply_debug(v, GuestDebug{}); !s) log(s.error().message);
      }
      batches.put_cave_back();
      new_stop();
    }
    threads.detach_threads();
  }

  LogFn log;
  VmmMemory mem;
  StopWatcher watcher;
  StopCostMeter cost;
  Colocation colocation;
  ThreadTracker threads;
  TripParts parts;
  Injector injector;
  BatchReader batches;
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
