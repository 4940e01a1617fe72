// The simulated guest's monitor commands (see sim_backend.hpp): `sim
// set-vl` (the guest writes ZCR_EL1) and `sim vmm-exit`.
#include "introspect/sim/sim_backend.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "introspect/sim/sim_bytes.hpp"

namespace svedbg::introspect {

using namespace sim_detail;

void SimBackend::add_monitor_commands(MonitorRegistry& registry) {
  registry.add({"sim set-vl", "VCPU BITS",
                "the guest on vCPU VCPU (0-based) writes ZCR_EL1 for a BITS-bit VL (128..2048, multiple of 128); "
                "the effective VL is the largest enabled length <= BITS; Z/P/FFR bits above it become zero. "
                "gdb sees the change at the next stop.",
                true, [this](std::string_view args) -> Result<std::string> {
                  const auto words = split_words(args);
                  if (words.size() != 2) return make_error(EINVAL, "usage: monitor sim set-vl VCPU BITS");
                  std::lock_guard lock(mu_);
                  return set_vl_locked(words[0], words[1]);
                }});
  registry.add({"sim vmm-exit", "", "the simulated VMM exits: the next resume reports it", true,
                [this](std::string_view args) -> Result<std::string> {
                  if (!args.empty()) return make_error(EINVAL, "usage: monitor sim vmm-exit");
                  std::lock_guard lock(mu_);
                  vmm_gone_ = true;
                  return std::string("the simulated VMM exited; the next resume reports it\n");
                }});
  add_irq_monitor_command(registry);  // sim irq (sim_irq.cpp)
}

Result<std::string> SimBackend::set_vl_locked(std::string_view vcpu_arg, std::string_view bits_arg) {
  const auto vcpu = parse_unsigned(vcpu_arg);
  if (!vcpu) return make_error(EINVAL, "sim set-vl: VCPU must be a vCPU number, got '{}'", vcpu_arg);
  if (*vcpu >= vcpus_.size())
    return make_error(ESRCH, "sim set-vl: no vCPU {} (the guest has {}, numbered from 0)", *vcpu, vcpus_.size());
  const auto bits = parse_unsigned(bits_arg);
  if (!bits || *bits < 128 || *bits > 2048 || *bits % 128 != 0)
    return make_error(EINVAL, "sim set-vl: BITS must be a multiple of 128 in 128..2048, got '{}'", bits_arg);

  // The guest's own `msr zcr_el1, x0`, seen through the register API.
  std::array<std::byte, 8> buf{};
  if (auto s = get_locked(*vcpu, kvm::zcr_el1(), buf); !s) return s.error();
  const std::uint64_t zcr = (load<std::uint64_t>(buf) & ~kvm::kZcrLenMask) | kvm::zcr_for_vq(*bits / 128);
  if (auto s = set_locked(*vcpu, kvm::zcr_el1(), bytes_of(zcr)); !s) return s.error();

  // The hardware side. Lowering the VL makes the bits above it
  // inaccessible, and the Arm ARM leaves their contents UNKNOWN when the VL
  // later grows again; we model implementations that zero them, so a later
  // increase exposes zeros rather than stale data.
  Vcpu& v = vcpus_[*vcpu];
  const unsigned e = kvm::effective_vq(v.vls, zcr);
  const std::size_t zlen = 16 * std::size_t{e};
  const std::size_t plen = zlen / 8;
  for (auto& z : v.z) std::fill(z.begin() + static_cast<std::ptrdiff_t>(zlen), z.end(), std::byte{0});
  for (auto& p : v.p) std::fill(p.begin() + static_cast<std::ptrdiff_t>(plen), p.end(), std::byte{0});
  std::fill(v.ffr.begin() + static_cast<std::ptrdiff_t>(plen), v.ffr.end(), std::byte{0});

  std::string text = fmt::format("vCPU {}: VL {} bits (ZCR_EL1.LEN={}", *vcpu, e * 128, zcr & kvm::kZcrLenMask);
  if (e * 128 != *bits) text += fmt::format(", {} bits requested but not enabled", *bits);
  return text + ")\n";
}

}  // namespace svedbg::introspect
