// The table of `svedbg ps` (see ps_text.hpp).
#include "kvm/scan/ps_text.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace svedbg::kvm {
namespace {

using Row = std::array<std::string, 10>;
const Row kHeader{"PID", "COMMAND", "VM FD", "VCPU", "FD", "TID", "THREAD", "SOURCE", "VLS", "VL"};

std::string cell_vls(const VmmEntry& vmm, const VcpuEntry& v) {
  if (!vmm.vl_error.empty() || !v.vl_error.empty() || !v.vl_read) return "-";
  return v.sve ? v.vls.to_string() : "no SVE";
}

std::string cell_vl(const VmmEntry& vmm, const VcpuEntry& v) {
  if (!vmm.vl_error.empty()) return "not read: " + vmm.vl_error;
  if (!v.vl_error.empty()) return "not read: " + v.vl_error;
  if (!v.vl_read || !v.sve) return "-";
  return fmt::format("{} bits", v.effective_vq * 128);
}

std::string join_ints(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += fmt::format("{}{}", out.empty() ? "" : ",", x);
  return out.empty() ? "-" : out;
}

// The rows, ordered by pid (a stable sort keeps each VMM's vCPUs in order).
std::vector<Row> rows_of(const VmmScan& scan) {
  std::vector<std::pair<pid_t, Row>> rows;
  for (const auto& vmm : scan.vmms) {
    const std::string pid = std::to_string(vmm.pid), vmfd = join_ints(vmm.vm_fds);
    if (vmm.vcpus.empty())
      rows.push_back({vmm.pid, Row{pid, vmm.comm, vmfd, "-", "-", "-", "-", "-", "-", "no vCPUs yet"}});
    for (const auto& v : vmm.vcpus)
      rows.push_back({vmm.pid, Row{pid, vmm.comm, vmfd, std::to_string(v.id), join_ints(v.fds),
                                   v.tid ? std::to_string(*v.tid) : "?", v.tid ? v.thread_name : "-",
                                   std::string(to_string(v.thread_source)), cell_vls(vmm, v), cell_vl(vmm, v)}});
  }
  for (const auto& u : scan.unreadable_vmms)
    rows.push_back(
        {u.pid, Row{std::to_string(u.pid), u.comm, "?", "?", "?", "?", "?", "-", "-", "not readable: " + u.reason}});
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Row> out;
  for (auto& [pid, r] : rows) out.push_back(std::move(r));
  return out;
}

std::string table(const std::vector<Row>& rows) {
  std::array<std::size_t, std::tuple_size_v<Row>> width{};
  for (std::size_t c = 0; c < width.size(); ++c) width[c] = kHeader[c].size();
  for (const auto& r : rows)
    for (std::size_t c = 0; c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  auto line = [&](const Row& r) {
    std::string l;
    for (std::size_t c = 0; c < r.size(); ++c) {
      l += r[c];
      if (c + 1 < r.size()) l += std::string(width[c] - r[c].size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(kHeader);
  for (const auto& r : rows) line(r);
  return out;
}

std::string notes(const VmmScan& scan) {
  std::string out;
  for (const auto& vmm : scan.vmms)
    if (vmm.tracer > 0)
      out += fmt::format("pid {} ({}) is traced by pid {} ({})\n", vmm.pid, vmm.comm, vmm.tracer,
                         vmm.tracer_comm.empty() ? "?" : vmm.tracer_comm);
  const bool unknown_thread = std::any_of(scan.vmms.begin(), scan.vmms.end(), [](const VmmEntry& vmm) {
    return std::any_of(vmm.vcpus.begin(), vmm.vcpus.end(), [](const VcpuEntry& v) { return !v.tid; });
  });
  if (unknown_thread)
    out +=
        "TID ?: a vCPU running guest code is not waiting in KVM_RUN; --vl (attach), or KVM's debugfs "
        "(root, debugfs mounted), tells its thread\n";
  const bool any_vcpu =
      std::any_of(scan.vmms.begin(), scan.vmms.end(), [](const VmmEntry& v) { return !v.vcpus.empty(); });
  if (any_vcpu && scan.vl_supported && !scan.vl_requested)
    out += "VLS, VL: `svedbg ps --vl` reads them (it stops each VMM for a moment with ptrace)\n";
  if (!scan.vl_note.empty()) out += scan.vl_note + "\n";
  const unsigned others = scan.unreadable - static_cast<unsigned>(scan.unreadable_vmms.size());
  if (others > 0)
    out += fmt::format(
        "{} {}process{} not readable (another user's or not dumpable): any VMM among them is not "
        "listed; run svedbg ps as root to see every VMM\n",
        others, scan.unreadable_vmms.empty() ? "" : "other ", others == 1 ? "" : "es");
  return out;
}

}  // namespace

std::string format_text(const VmmScan& scan) {
  const auto rows = rows_of(scan);
  std::string out =
      rows.empty() ? fmt::format("no KVM VMMs found (looked at {} processes)\n", scan.processes) : table(rows);
  return out + notes(scan);
}

}  // namespace svedbg::kvm
