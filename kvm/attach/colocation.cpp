// CPU colocation of tracer and VMM thread during a trip (see colocation.hpp).
#include "kvm/attach/colocation.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace svedbg::kvm {

AffinityOps AffinityOps::system() {
  return AffinityOps{
      [] { return ::sched_getcpu(); },
      [](pid_t tid, cpu_set_t& set) { return ::sched_getaffinity(tid, sizeof set, &set) == 0; },
      [](pid_t tid, const cpu_set_t& set) { return ::sched_setaffinity(tid, sizeof set, &set) == 0; },
  };
}

Colocation::Colocation(std::function<void(const std::string&)> log, AffinityOps ops)
    : log_(std::move(log)), ops_(std::move(ops)) {}

void Colocation::set_enabled(bool on) {
  enabled_ = on;
  if (!on) end();
}

bool Colocation::pin_tracer() {
  if (cpu_ >= 0) return true;
  cpu_set_t ours;
  const int cpu = ops_.current_cpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !ops_.get(0, ours)) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (!ops_.set(0, one)) return false;
  tracer_affinity_ = ours;
  cpu_ = cpu;
  return true;
}

void Colocation::pin(pid_t tid) {
  if (!enabled_ || !pin_tracer() || pinned_.count(tid)) return;
  cpu_set_t theirs;
  if (!ops_.get(tid, theirs) || !CPU_ISSET(cpu_, &theirs)) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu_, &one);
  if (ops_.set(tid, one)) pinned_[tid] = theirs;
}

void Colocation::release(pid_t tid) {
  auto it = pinned_.find(tid);
  if (it == pinned_.end()) return;
  if (!ops_.set(tid, it->second) && errno != ESRCH)
    log_(fmt::format("thread {}: cannot restore its CPU affinity: {}", tid, std::strerror(errno)));
  pinned_.erase(it);
}

void Colocation::end() {
  while (!pinned_.empty()) release(pinned_.begin()->first);
  if (tracer_affinity_) (void)ops_.set(0, *tracer_affinity_);
  tracer_affinity_.reset();
  cpu_ = -1;
}

}  // namespace svedbg::kvm
