#include "introspect/vcpu_subset.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace svedbg::introspect {

Result<std::unique_ptr<VcpuSubset>> VcpuSubset::create(std::unique_ptr<kvm::Backend> inner,
                                                       std::vector<unsigned> vcpus) {
  if (!inner) return make_error(EINVAL, "no backend to take vCPUs from");
  const unsigned n = inner->vcpu_count();
  if (vcpus.empty()) return make_error(EINVAL, "--vcpus: no vCPU given (the guest has vCPUs 0-{})", n - 1);
  if (!std::is_sorted(vcpus.begin(), vcpus.end()) || std::adjacent_find(vcpus.begin(), vcpus.end()) != vcpus.end())
    return make_error(EINVAL, "--vcpus: give each vCPU once, in ascending order");
  for (unsigned v : vcpus)
    if (v >= n) return make_error(ESRCH, "--vcpus: no vCPU {}: the guest has vCPUs 0-{}", v, n - 1);
  return std::unique_ptr<VcpuSubset>(new VcpuSubset(std::move(inner), std::move(vcpus)));
}

Result<unsigned> VcpuSubset::inner_of(unsigned vcpu) const {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (serving {})", vcpu, vcpus_.size());
  return vcpus_[vcpu];
}

Status VcpuSubset::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  auto v = inner_of(vcpu);
  if (!v) return v.error();
  return inner_->get_one_reg(*v, id, out);
}

Status VcpuSubset::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  auto v = inner_of(vcpu);
  if (!v) return v.error();
  return inner_->set_one_reg(*v, id, in);
}

void VcpuSubset::get_regs(std::span<RegRead> reads) {
  std::vector<RegRead> inner;
  std::vector<std::size_t> where;  // reads[where[k]] is inner[k]
  inner.reserve(reads.size());
  for (std::size_t i = 0; i < reads.size(); ++i) {
    auto v = inner_of(reads[i].vcpu);
    if (!v) {
      reads[i].status = v.error();
      continue;
    }
    inner.push_back(RegRead{*v, reads[i].id, reads[i].out, {}});
    where.push_back(i);
  }
  inner_->get_regs(inner);
  for (std::size_t k = 0; k < inner.size(); ++k) reads[where[k]].status = std::move(inner[k].status);
}

Status VcpuSubset::set_guest_debug(unsigned vcpu, const kvm::GuestDebug& debug) {
  auto v = inner_of(vcpu);
  if (!v) return v.error();
  return inner_run_->set_guest_debug(*v, debug);
}

Status VcpuSubset::resume(std::span<const unsigned> step, bool others_run) {
  std::vector<unsigned> inner;
  for (unsigned s : step) {
    auto v = inner_of(s);
    if (!v) return v.error();
    inner.push_back(*v);
  }
  return inner_run_->resume(inner, others_run);
}

std::optional<kvm::BackendStop> VcpuSubset::poll_stop() {
  auto s = inner_run_->poll_stop();
  if (!s) return s;
  auto it = std::find(vcpus_.begin(), vcpus_.end(), s->vcpu);
  s->vcpu = it == vcpus_.end() ? 0 : static_cast<unsigned>(it - vcpus_.begin());
  return s;
}

Result<std::vector<unsigned>> parse_vcpu_list(std::string_view text) {
  const std::string_view whole = text;
  std::vector<unsigned> out;
  auto number = [&](std::string_view s) -> Result<unsigned> {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
      return make_error(EINVAL, "--vcpus '{}': '{}' is not a vCPU index", whole, s);
    return v;
  };
  while (!text.empty() || out.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const auto dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    if (!lo) return lo.error();
    unsigned hi = *lo;
    if (dash != std::string_view::npos) {
      auto h = number(item.substr(dash + 1));
      if (!h) return h.error();
      if (*h < *lo) return make_error(EINVAL, "--vcpus: range {} runs backwards", item);
      if (*h - *lo > 4096) return make_error(EINVAL, "--vcpus: range {} is too large", item);
      hi = *h;
    }
    for (unsigned v = *lo; v <= hi; ++v) out.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return make_error(EINVAL, "--vcpus: trailing comma");
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    return make_error(EINVAL, "--vcpus: a vCPU is listed twice");
  return out;
}

}  // namespace svedbg::introspect
