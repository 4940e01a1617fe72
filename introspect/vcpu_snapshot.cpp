#include "introspect/vcpu_snapshot.hpp"

#include <algorithm>
#include <vector>

#include "introspect/regmap.hpp"
#include "xml-targets/tdesc.hpp"

namespace svedbg::introspect {
namespace {

std::uint64_t load_le(std::span<const std::byte> b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(8, b.size()); ++i)
    v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
  return v;
}

// The registers of one vCPU, read in one Backend::get_regs batch (one trip
// into the VMM for the attach backend) and then handed out one by one.
class Prefetched {
 public:
  Prefetched(kvm::Backend& backend, unsigned vcpu, const std::vector<std::uint64_t>& ids)
      : backend_(backend), vcpu_(vcpu) {
    values_.reserve(ids.size());
    std::vector<kvm::Backend::RegRead> reads;
    reads.reserve(ids.size());
    for (std::uint64_t id : ids) {
      values_.push_back({id, std::vector<std::byte>(kvm::reg_size(id)), {}});
      reads.push_back(kvm::Backend::RegRead{vcpu, id, values_.back().bytes, {}});
    }
    backend.get_regs(reads);
    for (std::size_t i = 0; i < reads.size(); ++i) values_[i].status = reads[i].status;
  }
  // get_one_reg, served from the batch (registers outside it are read now).
  Status get(std::uint64_t id, std::span<std::byte> out) {
    for (const auto& v : values_) {
      if (v.id != id || out.size() != v.bytes.size()) continue;
      if (!v.status) return v.status;
      std::copy(v.bytes.begin(), v.bytes.end(), out.begin());
      return {};
    }
    return backend_.get_one_reg(vcpu_, id, out);
  }
  Result<std::uint64_t> get_u64(std::uint64_t id) {
    std::array<std::byte, 8> buf{};
    std::span<std::byte> out(buf.data(), kvm::reg_size(id));
    if (auto s = get(id, out); !s) return s.error();
    return load_le(out);
  }

 private:
  struct Value {
    std::uint64_t id;
    std::vector<std::byte> bytes;
    Status status;
  };
  kvm::Backend& backend_;
  unsigned vcpu_;
  std::vector<Value> values_;
};

}  // namespace

Result<VcpuSnapshot> take_snapshot(kvm::Backend& backend, unsigned vcpu) {
  VcpuSnapshot s;
  s.index = vcpu;
  s.vmm_index = backend.vmm_index(vcpu);

  std::array<std::byte, kvm::kVlsBytes> vls{};
  if (auto st = backend.get_one_reg(vcpu, kvm::sve_vls(), vls); st) {
    s.vls = kvm::VqSet::from_bytes(vls);
    s.sve = !s.vls.empty();
    if (!s.sve) return make_error(EINVAL, "vCPU {}: SVE_VLS is empty", s.vmm_index);
  } else if (st.error().code != ENOENT) {
    return st.error();
  }
  // Everything below in one batch.
  std::vector<std::uint64_t> ids;
  if (s.sve) ids.push_back(kvm::zcr_el1());
  for (unsigned n = 0; n < 31; ++n) ids.push_back(kvm::core_x(n));
  for (auto id : {kvm::core_sp(), kvm::core_pc(), kvm::core_pstate(), kvm::core_fpsr(), kvm::core_fpcr()})
    ids.push_back(id);
  for (unsigned n = 0; n < kvm::kSveNumZregs; ++n) ids.push_back(s.sve ? kvm::sve_zreg(n) : kvm::core_vreg(n));
  if (s.sve) {
    for (unsigned n = 0; n < kvm::kSveNumPregs; ++n) ids.push_back(kvm::sve_preg(n));
    ids.push_back(kvm::sve_ffr());
  }
  for (const auto& spec : xml::register_table(true, 1))
    if (spec.cls == xml::RegClass::Sys)
      if (auto id = sysreg_id(static_cast<xml::SysReg>(spec.index), s.sve); id && *id != kvm::zcr_el1())
        ids.push_back(*id);
  Prefetched regs(backend, vcpu, ids);

  if (s.sve) {
    s.max_vq = s.vls.max();
    auto zcr = regs.get_u64(kvm::zcr_el1());
    if (!zcr) return zcr.error();
    s.effective_vq = kvm::effective_vq(s.vls, *zcr);
  }

  for (unsigned n = 0; n < 31; ++n) {
    auto v = regs.get_u64(kvm::core_x(n));
    if (!v) return v.error();
    s.x[n] = *v;
  }
  for (auto [id, dst] : {std::pair{kvm::core_sp(), &s.sp}, {kvm::core_pc(), &s.pc}, {kvm::core_pstate(), &s.pstate}}) {
    auto v = regs.get_u64(id);
    if (!v) return v.error();
    *dst = *v;
  }
  for (auto [id, dst] : {std::pair{kvm::core_fpsr(), &s.fpsr}, {kvm::core_fpcr(), &s.fpcr}}) {
    auto v = regs.get_u64(id);
    if (!v) return v.error();
    *dst = static_cast<std::uint32_t>(*v);
  }

  const std::size_t zvis = s.z_bytes(), pvis = s.p_bytes();
  for (unsigned n = 0; n < kvm::kSveNumZregs; ++n) {
    auto& z = s.z[n];
    if (s.sve) {
      if (auto st = regs.get(kvm::sve_zreg(n), z); !st) return st.error();
    } else if (auto st = regs.get(kvm::core_vreg(n), std::span(z).first(16)); !st) {
      return st.error();
    }
    std::fill(z.begin() + static_cast<std::ptrdiff_t>(zvis), z.end(), std::byte{0});
  }
  if (s.sve) {
    for (unsigned n = 0; n < kvm::kSveNumPregs; ++n)
      if (auto st = regs.get(kvm::sve_preg(n), s.p[n]); !st) return st.error();
    if (auto st = regs.get(kvm::sve_ffr(), s.ffr); !st) return st.error();
  }
  for (auto& p : s.p) std::fill(p.begin() + static_cast<std::ptrdiff_t>(pvis), p.end(), std::byte{0});
  std::fill(s.ffr.begin() + static_cast<std::ptrdiff_t>(pvis), s.ffr.end(), std::byte{0});

  for (const auto& spec : xml::register_table(true, 1)) {
    if (spec.cls != xml::RegClass::Sys) continue;
    const auto id = sysreg_id(static_cast<xml::SysReg>(spec.index), s.sve);
    if (!id) continue;  // ZCR_EL1 on a vCPU without SVE
    auto v = regs.get_u64(*id);
    if (v)
      s.sysregs.push_back({spec.name, *id, *v});
    else
      s.sysreg_errors.push_back({spec.name, v.error().message});
  }
  return s;
}

Result<std::vector<VcpuSnapshot>> take_snapshots(kvm::Backend& backend) {
  std::vector<VcpuSnapshot> out;
  for (unsigned v = 0; v < backend.vcpu_count(); ++v) {
    auto s = take_snapshot(backend, v);
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  if (out.empty()) return make_error(ENODEV, "{}: the guest has no vCPUs", backend.name());
  return out;
}

}  // namespace svedbg::introspect
