// The attach backend's counters and `monitor attach` text (see attach_stats.hpp).
#include "kvm/attach/attach_stats.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

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
  out += batching_line(r) + colocation_line(r);
  if (r.last_all_stop)
    out += fmt::format("last all-stop: {} threads in {:.1f} ms\n", r.threads_traced,
                       static_cast<double>(r.last_all_stop->count()) / 1e6);
  if (r.memory) out += fmt::format("svedbg memory: VmRSS {} kB, VmHWM {} kB\n", r.memory->rss_kb, r.memory->hwm_kb);
  return out;
}

std::optional<DaemonMemory> parse_memory(std::string_view status) {
  const auto field = [&](std::string_view key) -> std::optional<std::uint64_t> {
    for (std::size_t at = 0; at < status.size();) {
      const std::size_t end = std::min(status.find('\n', at), status.size());
      const std::string_view line = status.substr(at, end - at);
      at = end + 1;
      if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != ':') continue;
      std::uint64_t v = 0;
      bool digits = false;
      for (char c : line.substr(key.size() + 1)) {
        if (c >= '0' && c <= '9') {
          v = v * 10 + static_cast<std::uint64_t>(c - '0');
          digits = true;
        } else if (digits) {
          break;
        }
      }
      if (digits) return v;
    }
    return std::nullopt;
  };
  const auto rss = field("VmRSS");
  const auto hwm = field("VmHWM");
  if (!rss || !hwm) return std::nullopt;
  return DaemonMemory{*rss, *hwm};
}

std::optional<DaemonMemory> own_memory() {
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  return parse_memory(text.str());
}

}  // namespace svedbg::kvm
