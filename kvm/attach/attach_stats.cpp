// The attach backend's counters and `monitor attach` text (see attach_stats.hpp).
#include "kvm/attach/attach_stats.hpp"

#include <fmt/format.h>

namespace svedbg::kvm {

void StopCostMeter::count_trip() {
  if (reading_)
    ++current_.read_trips;
  else
    ++current_.other_trips;
}

void StopCostMeter::new_stop() {
  last_ = current_;
  current_ = {};
}

StopCostMeter::ReadScope::~ReadScope() {
  m_.reading_ = was_;
  if (!was_) m_.current_.read_time += std::chrono::steady_clock::now() - t0_;
}

namespace {

double us(std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; }

std::string batching_line(const AttachReport& r) {
  if (!r.batching) return fmt::format("batched register reads: off ({})\n", r.batching_note);
  return fmt::format(
      "batched register reads: on; loop at {:#x} ({}, past its code; {} this stop), tables on the "
      "stack\n",
      r.cave_addr, r.cave_path, r.loop_written ? "written" : "not written");
}

std::string colocation_line(const AttachReport& r) {
  if (!r.colocate) return "CPU colocation: off\n";
  if (r.pin_cpu >= 0)
    return fmt::format("CPU colocation: on (svedbg on CPU {} in this stop, each trip's VMM thread too)\n", r.pin_cpu);
  return "CPU colocation: on\n";
}

}  // namespace

std::string format_attach_report(const AttachReport& r) {
  std::string out = r.description + "\n";
  for (unsigned v = 0; v < r.vcpus.size(); ++v) {
    const auto& c = r.vcpus[v];
    out += fmt::format("vCPU {}: kvm-vcpu:{} fd {} thread {} kvm_run {:#x}\n", v, c.id, c.fd,
                       c.thread ? std::to_string(*c.thread) : std::string("?"), c.run);
  }
  out += fmt::format("threads traced: {}; injected system calls: {}\n", r.threads_traced, r.totals.injected);
  out += fmt::format("trips into the VMM: {}; KVM ioctls: {}; batches: {} ({} registers)\n", r.totals.trips,
                     r.totals.kvm_ioctls, r.totals.batches, r.totals.batched_regs);
  out += fmt::format("register reads in this stop: {} trips, {} KVM_GET_ONE_REG, {:.0f} us\n", r.this_stop.read_trips,
                     r.this_stop.reg_ioctls, us(r.this_stop.read_time));
  if (r.last_stop)
    out += fmt::format(
        "register reads in the previous stop: {} trips, {} KVM_GET_ONE_REG, {:.0f} us; other trips: {}\n",
        r.last_stop->read_trips, r.last_stop->reg_ioctls, us(r.last_stop->read_time), r.last_stop->other_trips);
  return out + batching_line(r) + colocation_line(r);
}

}  // namespace svedbg::kvm
