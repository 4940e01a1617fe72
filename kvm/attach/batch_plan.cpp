// Planning batched register reads and reading their results (see batch_plan.hpp).
#include "kvm/attach/batch_plan.hpp"

#include <algorithm>

namespace svedbg::kvm {

std::vector<batch::Call> batch_calls(std::span<const Backend::RegRead> reads, std::span<const std::size_t> todo,
                                     const std::vector<VmmVcpu>& vcpus) {
  std::vector<batch::Call> calls;
  calls.reserve(todo.size());
  for (auto i : todo) calls.push_back(batch::Call{vcpus[reads[i].vcpu].fd, reads[i].id, reads[i].out.size()});
  return calls;
}

Result<batch::Plan> place_batch(const StackRoom& room, std::span<const batch::Call> calls, pid_t tid,
                                std::uint64_t sp) {
  const auto sizing = batch::plan(0, room.bytes, calls);
  if (sizing.count == 0)
    return make_error(EAGAIN, "thread {}: {} bytes below sp {:#x} hold no batch", tid, room.bytes, sp);
  const std::uint64_t table = (room.top - sizing.read_bytes) & ~std::uint64_t{15};
  return batch::plan(table, static_cast<std::size_t>(room.top - table), calls);
}

std::size_t executed(const batch::Plan& plan, std::span<const std::byte> back, bool read_ok) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < plan.count; ++i)
    if (!read_ok || batch::result_of(back, i) != batch::kNotRun) ++n;
  return n;
}

void take_results(const batch::Plan& plan, std::span<const std::byte> back, std::span<Backend::RegRead> reads,
                  std::span<const std::size_t> todo, std::size_t first) {
  for (std::size_t k = 0; k < plan.count; ++k) {
    auto& rd = reads[todo[first + k]];
    rd.status = batch::status_of(batch::result_of(back, k), rd.vcpu, rd.id);
    if (rd.status) {
      const auto value = batch::value_of(plan, back, k);
      std::copy(value.begin(), value.end(), rd.out.begin());
    }
  }
}

}  // namespace svedbg::kvm
