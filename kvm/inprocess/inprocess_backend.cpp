// The in-process KVM backend (see inprocess_backend.hpp).
#include "kvm/inprocess/inprocess_backend.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "kvm/debug_exit.hpp"
#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"
#include "common/unique_fd.hpp"

namespace svedbg::kvm {

Result<std::unique_ptr<InProcessBackend>> InProcessBackend::create(std::vector<GateVcpu> vcpus,
                                                                   std::vector<MemoryRegion> memory,
                                                                   InProcessOptions options) {
  if (vcpus.empty()) return make_error(EINVAL, "kvm: no vCPUs given");
  for (const auto& r : memory)
    if (r.size == 0 || r.hva == nullptr || r.gpa + r.size < r.gpa)
      return make_error(EINVAL, "kvm: bad memory region gpa {:#x} size {:#x}", r.gpa, r.size);
  std::unique_ptr<InProcessBackend> b(new InProcessBackend(std::move(vcpus), std::move(memory), std::move(options)));
  for (unsigned i = 0; i < b->gate_.size(); ++i) {
    std::array<std::byte, kVlsBytes> buf{};
    auto s = kvm::get_one_reg(b->gate_.fd(i), i, sve_vls(), buf);
    if (s) {
      b->vls_[i] = VqSet::from_bytes(buf);
    } else if (s.error().code != ENOENT) {
      return s.error();
    }
  }
  b->caps_ = host_debug_caps();
  return b;
}

InProcessBackend::InProcessBackend(std::vector<GateVcpu> vcpus, std::vector<MemoryRegion> memory,
                                   InProcessOptions options)
    : options_(std::move(options)),
      gate_(vcpus, options_.kick_signal, options_.hold_at_start),
      memory_(std::move(memory)),
      vls_(vcpus.size()) {
  std::sort(memory_.begin(), memory_.end(), [](const auto& a, const auto& b) { return a.gpa < b.gpa; });
}

void InProcessBackend::log(const std::string& line) const {
  if (options_.log)
    options_.log(line);
  else
    std::fprintf(stderr, "svedbg: %s\n", line.c_str());
}

Status InProcessBackend::check_vcpu(unsigned vcpu) const {
  if (vcpu >= gate_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, gate_.size());
  if (!gate_.parked(vcpu)) return make_error(EBUSY, "vCPU {} is running; registers are read while it is stopped", vcpu);
  return {};
}

Status InProcessBackend::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  if (id == sve_vls()) {
    if (vcpu >= gate_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, gate_.size());
    if (out.size() != kVlsBytes)
      return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", vcpu, out.size(), reg_name(id), kVlsBytes);
    if (!vls_[vcpu]) return one_reg_error(vcpu, id, false, ENOENT);
    vls_[vcpu]->to_bytes(out.first<kVlsBytes>());
    return {};
  }
  if (auto s = check_vcpu(vcpu); !s) return s;
  return kvm::get_one_reg(gate_.fd(vcpu), vcpu, id, out);
}

Status InProcessBackend::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  if (id == sve_vls()) {
    if (vcpu >= gate_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, gate_.size());
    return one_reg_error(vcpu, id, true, vls_[vcpu] ? EPERM : ENOENT);
  }
  if (auto s = check_vcpu(vcpu); !s) return s;
  return kvm::set_one_reg(gate_.fd(vcpu), vcpu, id, in);
}

std::optional<std::span<std::byte>> InProcessBackend::region_at(std::uint64_t gpa) const {
  for (const auto& r : memory_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size) {
      const std::size_t off = gpa - r.gpa;
      return std::span<std::byte>(static_cast<std::byte*>(r.hva) + off, r.size - off);
    }
  }
  return std::nullopt;
}

Result<std::size_t> InProcessBackend::read_phys(std::uint64_t gpa, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    auto r = region_at(gpa + done);
    if (!r) break;
    const std::size_t n = std::min(out.size() - done, r->size());
    std::memcpy(out.data() + done, r->data(), n);
    done += n;
  }
  if (done == 0 && !out.empty()) return make_error(EFAULT, "no guest RAM at {:#x}", gpa);
  return done;
}

Result<std::size_t> InProcessBackend::write_phys(std::uint64_t gpa, std::span<const std::byte> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    auto r = region_at(gpa + done);
    if (!r) break;
    const std::size_t n = std::min(in.size() - done, r->size());
    std::memcpy(r->data(), in.data() + done, n);
    done += n;
  }
  if (done == 0 && !in.empty()) return make_error(EFAULT, "no guest RAM at {:#x}", gpa);
  // Note: no I-cache maintenance is done for code written here (e.g. gdb's
  // software breakpoints); the guest may still execute stale instructions.
  return done;
}

std::vector<MemoryRange> InProcessBackend::memory_map() const {
  std::vector<MemoryRange> out;
  for (const auto& r : memory_) {
    if (!out.empty() && out.back().gpa + out.back().size == r.gpa)
      out.back().size += r.size;  // adjacent regions form one range
    else
      out.push_back(MemoryRange{r.gpa, r.size});
  }
  return out;
}

Status InProcessBackend::set_guest_debug(unsigned vcpu, const GuestDebug& debug) {
  return gate_.set_guest_debug(vcpu, debug);
}

Status InProcessBackend::resume(std::span<const unsigned> step, bool others_run) {
  return gate_.resume(step, others_run);
}

void InProcessBackend::interrupt() { gate_.interrupt(); }

std::optional<BackendStop> InProcessBackend::poll_stop() { return gate_.poll_stop(); }

bool InProcessBackend::running() const { return gate_.running(); }

void InProcessBackend::set_stop_notifier(std::function<void()> notify) { gate_.set_stop_notifier(std::move(notify)); }

Detached InProcessBackend::detach() {
  if (auto s = gate_.release_all(); !s) log(s.error().message);
  return Detached::Resumed;  // the VM lives in this process: it cannot be gone
}

void InProcessBackend::kill() {
  if (options_.on_kill) {
    options_.on_kill();
    return;
  }
  log("kill: the VM belongs to its VMM; resuming it as on detach (stop it through the VMM)");
  detach();
}

}  // namespace svedbg::kvm
