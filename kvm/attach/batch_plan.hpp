// kvm/attach/batch_plan: the arch-independent half of a batched register
// read (inject_batch.hpp has the loop and the table layout): which calls a
// read makes, where one trip's table goes, and what its results mean for
// each read.
//
// Contract:
//  - batch_calls(): one KVM_GET_ONE_REG per read reads[todo[k]], on its
//    vCPU's fd (vCPU numbers already checked).
//  - place_batch(): the plan of one trip for the calls from the front of
//    `calls` that fit in `room` below room.top: sized first, then placed
//    right under the top (16-aligned), close to sp. EAGAIN when not even
//    the first fits.
//  - executed(): how many of the plan's ioctls ran (an entry the loop did
//    not reach keeps batch::kNotRun; an unreadable table counts them all).
//  - take_results(): each planned read gets its status (batch::status_of)
//    and, on success, its value bytes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/inject_batch.hpp"
#include "kvm/attach/vmm_proc.hpp"
#include "kvm/backend.hpp"

namespace svedbg::kvm {

std::vector<batch::Call> batch_calls(std::span<const Backend::RegRead> reads, std::span<const std::size_t> todo,
                                     const std::vector<VmmVcpu>& vcpus);
Result<batch::Plan> place_batch(const StackRoom& room, std::span<const batch::Call> calls, pid_t tid, std::uint64_t sp);
std::size_t executed(const batch::Plan& plan, std::span<const std::byte> back, bool read_ok);
// reads[todo[first + k]] for k < plan.count, from the bytes read back.
void take_results(const batch::Plan& plan, std::span<const std::byte> back, std::span<Backend::RegRead> reads,
                  std::span<const std::size_t> todo, std::size_t first);

}  // namespace svedbg::kvm
