// The simulated guest (see sim_backend.hpp). Kernel references are to
// arch/arm64/kvm/guest.c (core and SVE registers, KVM_ARM_VCPU_FINALIZE)
// and arch/arm64/kvm/sys_regs.c (system registers) unless noted.
#include "introspect/sim/sim_backend.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "introspect/sim/sim_bytes.hpp"

namespace svedbg::introspect {

using namespace sim_detail;
namespace {

constexpr unsigned kMaxVcpus = 512;  // KVM_MAX_VCPUS on arm64
constexpr std::uint64_t kStackBase = 0x80000000;

// ID with its size field replaced by `size_field`, for naming a register
// whose ID carried the wrong size.
constexpr std::uint64_t with_size(std::uint64_t id, std::uint64_t size_field) {
  return (id & ~kvm::kRegSizeMask) | size_field;
}

// KVM_REG_SIZE field a core offset (in u32 units) must carry, or 0 when no
// register starts there: core_reg_size_from_offset().
std::uint64_t core_size_field(std::uint64_t off) {
  const std::uint64_t byte = off * sizeof(std::uint32_t);
  if (byte < layout::kSpsr + 8 * layout::kNrSpsr) return byte % 8 == 0 ? kvm::kRegSizeU64 : 0;
  if (byte >= layout::kVregs && byte < layout::kFpsr) return (byte - layout::kVregs) % 16 == 0 ? kvm::kRegSizeU128 : 0;
  if (byte == layout::kFpsr || byte == layout::kFpcr) return kvm::kRegSizeU32;
  return 0;
}

// KVM's reset_mpidr(): 16 vCPUs per Aff0 cluster, RES1 bit 31.
std::uint64_t mpidr_for(unsigned vcpu) {
  return (std::uint64_t{1} << 31) | (vcpu & 0xfU) | (std::uint64_t{(vcpu >> 4) & 0xffU} << 8) |
         (std::uint64_t{(vcpu >> 12) & 0xffU} << 16);
}

void must(const Status& s) {
  if (!s) throw std::logic_error("sim setup: " + s.error().message);
}

SimConfig validated(SimConfig cfg) {
  if (auto s = SimBackend::check_config(cfg); !s) throw std::invalid_argument(s.error().message);
  return cfg;
}

}  // namespace

Status SimBackend::check_config(const SimConfig& cfg) {
  if (cfg.vcpus == 0 || cfg.vcpus > kMaxVcpus)
    return make_error(EINVAL, "sim: {} vCPUs requested, 1..{} supported", cfg.vcpus, kMaxVcpus);
  if (cfg.max_vq < 1 || cfg.max_vq > kHostMaxVq)
    return make_error(EINVAL, "sim: max_vq {} outside 1..{} (128..2048 bits)", cfg.max_vq, kHostMaxVq);
  if (cfg.vls.max() > kHostMaxVq)
    return make_error(EINVAL, "sim: host vector lengths {} exceed 2048 bits", cfg.vls.to_string());
  if (!cfg.vls.empty() && cfg.vls.min() > cfg.max_vq)
    return make_error(EINVAL, "sim: no host vector length ({}) is <= max_vq {} ({} bits)", cfg.vls.to_string(),
                      cfg.max_vq, cfg.max_vq * 128);
  if (cfg.ram_size == 0) return make_error(EINVAL, "sim: ram_size is 0");
  if (cfg.ram_base + cfg.ram_size < cfg.ram_base)
    return make_error(EINVAL, "sim: RAM {:#x}+{:#x} wraps the address space", cfg.ram_base, cfg.ram_size);
  return {};
}

SimBackend::SimBackend(SimConfig cfg, bool setup)
    : cfg_(validated(std::move(cfg))),
      setup_(setup),
      host_vls_(cfg_.vls.empty() ? kvm::VqSet::range(1, kHostMaxVq) : cfg_.vls) {
  {
    std::lock_guard lock(mu_);
    reset_locked();
    if (setup_) setup_locked();
  }
  runner_ = std::thread([this] { run_loop(); });
}

SimBackend::~SimBackend() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  wake_.notify_all();
  runner_.join();
}

std::uint8_t SimBackend::fixture_ram_byte(std::uint64_t offset) {
  if (offset >= kLoopOffset && offset < kLoopOffset + 4)
    return static_cast<std::uint8_t>((kBranchSelf >> (8 * (offset % 4))) & 0xff);
  if (offset < 0x1000) return static_cast<std::uint8_t>((kNop >> (8 * (offset % 4))) & 0xff);
  return static_cast<std::uint8_t>(offset % 251);
}

unsigned SimBackend::fixture_vq(unsigned vcpu) const {
  std::lock_guard lock(mu_);
  return vcpu < vcpus_.size() ? vcpus_[vcpu].fixture_vq : 0;
}

// KVM_CREATE_VCPU + KVM_ARM_VCPU_INIT: kvm_reset_vcpu() leaves the core
// registers zero except PSTATE (EL1h, DAIF masked), system registers at
// their reset values, VLS = every length the host supports
// (kvm_arm_vcpu_sve_reset / sve_max_vl = kvm_sve_max_vl), not finalized.
void SimBackend::reset_locked() {
  vcpus_.assign(cfg_.vcpus, Vcpu{});
  debug_.assign(cfg_.vcpus, kvm::GuestDebug{});
  irq_period_ = cfg_.irq_period;  // the timer as configured, nothing pending
  irq_at_resume_ = true;
  for (unsigned c = 0; c < cfg_.vcpus; ++c) {
    Vcpu& v = vcpus_[c];
    v.has_sve = cfg_.sve.empty() ? true : bool(cfg_.sve[c % cfg_.sve.size()]);
    v.vls = v.has_sve ? host_vls_ : kvm::VqSet{};
    store_core_u64(v.core, layout::kPstate, kPstateReset);
    v.sysregs = {
        {kvm::midr_el1(), kMidr},
        {kvm::mpidr_el1(), mpidr_for(c)},
        {kvm::sctlr_el1(), kSctlrReset},
        {kvm::ttbr0_el1(), 0},
        {kvm::ttbr1_el1(), 0},
        {kvm::tcr_el1(), 0},
        {kvm::esr_el1(), 0},
        {kvm::far_el1(), 0},
        {kvm::vbar_el1(), 0},
        {kvm::mair_el1(), 0},
    };
    // ZCR_EL1 exists only for SVE vCPUs (sve_visibility() hides it).
    if (v.has_sve) v.sysregs.emplace_back(kvm::zcr_el1(), 0);
  }
  ram_.resize(cfg_.ram_size);
  for (std::size_t o = 0; o < ram_.size(); ++o) ram_[o] = std::byte{fixture_ram_byte(o)};
  running_ = false;
  pending_.reset();
  last_stop_vcpu_ = 0;
  non_stop_ = false;
  vcpu_run_.assign(cfg_.vcpus, 0);
  vcpu_stops_.clear();
}

// What a VMM does (the seed's sequence), then the fixture, all through the
// same checked paths as get_one_reg/set_one_reg/finalize.
void SimBackend::setup_locked() {
  for (unsigned c = 0; c < cfg_.vcpus; ++c) {
    if (!vcpus_[c].has_sve) continue;
    std::array<std::byte, kvm::kVlsBytes> buf{};
    must(get_locked(c, kvm::sve_vls(), buf));
    kvm::VqSet vls = kvm::VqSet::from_bytes(buf);
    for (unsigned vq = cfg_.max_vq + 1; vq <= kvm::kSveVqMax; ++vq) vls.clear(vq);
    vls.to_bytes(buf);
    must(set_locked(c, kvm::sve_vls(), buf));
    must(finalize_locked(c));
  }

  for (unsigned c = 0; c < cfg_.vcpus; ++c) {
    Vcpu& v = vcpus_[c];
    for (unsigned n = 0; n <= 30; ++n) must(set_locked(c, kvm::core_x(n), bytes_of<std::uint64_t>(0x1000ULL * c + n)));
    // The vCPUs run at EL1h, on SP_EL1 (gdb's sp); SP_EL0 holds the same value.
    must(set_locked(c, kvm::core_sp(), bytes_of<std::uint64_t>(kStackBase + 0x1000ULL * c)));
    must(set_locked(c, kvm::core_sp_el1(), bytes_of<std::uint64_t>(kStackBase + 0x1000ULL * c)));
    must(set_locked(c, kvm::core_pc(), bytes_of<std::uint64_t>(cfg_.ram_base)));
    must(set_locked(c, kvm::core_pstate(), bytes_of<std::uint64_t>(kPstateReset)));
    must(set_locked(c, kvm::core_fpsr(), bytes_of<std::uint32_t>(0)));
    must(set_locked(c, kvm::core_fpcr(), bytes_of<std::uint32_t>(0)));

    if (!v.has_sve) {
      for (unsigned n = 0; n < 32; ++n) {
        std::array<std::byte, 16> vreg{};
        for (unsigned b = 0; b < vreg.size(); ++b) vreg[b] = std::byte{fixture_z_byte(c, n, b)};
        must(set_locked(c, kvm::core_vreg(n), vreg));
      }
      continue;
    }

    const unsigned requested =
        cfg_.effective_vq.empty() ? cfg_.max_vq : cfg_.effective_vq[c % cfg_.effective_vq.size()];
    const unsigned e = kvm::effective_vq(v.vls, kvm::zcr_for_vq(requested));
    v.fixture_vq = e;
    must(set_locked(c, kvm::zcr_el1(), bytes_of<std::uint64_t>(e - 1)));
    const unsigned zlen = 16 * e;
    const unsigned plen = zlen / 8;
    for (unsigned n = 0; n < kvm::kSveNumZregs; ++n) {
      std::array<std::byte, kvm::kZregBytes> z{};
      for (unsigned b = 0; b < zlen; ++b) z[b] = std::byte{fixture_z_byte(c, n, b)};
      must(set_locked(c, kvm::sve_zreg(n), z));
    }
    for (unsigned n = 0; n < kvm::kSveNumPregs; ++n) {
      std::array<std::byte, kvm::kPregBytes> p{};
      for (unsigned b = 0; b < plen; ++b) p[b] = std::byte{fixture_p_byte(c, n, b)};
      must(set_locked(c, kvm::sve_preg(n), p));
    }
    std::array<std::byte, kvm::kPregBytes> ffr{};
    for (unsigned b = 0; b < plen; ++b) ffr[b] = std::byte{0xff};
    must(set_locked(c, kvm::sve_ffr(), ffr));
  }
}

// --- registers ------------------------------------------------------------

// A running vCPU is busy in KVM_RUN: its registers cannot be accessed.
Status SimBackend::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  std::lock_guard lock(mu_);
  if (busy_locked(vcpu)) return make_error(EBUSY, "vCPU {} is running ({})", vcpu, kvm::reg_name(id));
  return get_locked(vcpu, id, out);
}

Status SimBackend::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  std::lock_guard lock(mu_);
  if (busy_locked(vcpu)) return make_error(EBUSY, "vCPU {} is running ({})", vcpu, kvm::reg_name(id));
  return set_locked(vcpu, id, in);
}

Status SimBackend::check_access(unsigned vcpu, std::uint64_t id, std::size_t buf_size) const {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  // kvm_arm_get_reg(): bits 63..32 other than the size must be KVM_REG_ARM64.
  if (!kvm::is_arm64(id)) return make_error(EINVAL, "vCPU {}: {:#018x} is not an arm64 register ID", vcpu, id);
  // KVM transfers exactly KVM_REG_SIZE(id) bytes; the Backend contract
  // makes the caller's buffer carry that size.
  if (buf_size != kvm::reg_size(id))
    return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", vcpu, buf_size, kvm::reg_name(id),
                      kvm::reg_size(id));
  return {};
}

Status SimBackend::get_locked(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  if (auto s = check_access(vcpu, id, out.size()); !s) return s;
  switch (kvm::reg_coproc(id)) {
    case kvm::kRegArmCore: return core_access(vcpu, id, out, {});
    case kvm::kRegArm64Sve: return sve_access(vcpu, id, out, {});
    case kvm::kRegArm64Sysreg: return sysreg_access(vcpu, id, out, {});
    default: return make_error(ENOENT, "vCPU {}: no register {} in the simulated guest", vcpu, kvm::reg_name(id));
  }
}

Status SimBackend::set_locked(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) {
  if (auto s = check_access(vcpu, id, in.size()); !s) return s;
  switch (kvm::reg_coproc(id)) {
    case kvm::kRegArmCore: return core_access(vcpu, id, {}, in);
    case kvm::kRegArm64Sve: return sve_access(vcpu, id, {}, in);
    case kvm::kRegArm64Sysreg: return sysreg_access(vcpu, id, {}, in);
    default: return make_error(ENOENT, "vCPU {}: no register {} in the simulated guest", vcpu, kvm::reg_name(id));
  }
}

// get_core_reg()/set_core_reg(): the ID's low bits are a u32 index into
// struct kvm_regs. Past the struct: ENOENT; not the start of a register,
// or a size field other than the register's: EINVAL (validate_core_offset);
// V-registers on an SVE vCPU: EINVAL (the Z registers own that state).
Status SimBackend::core_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out,
                               std::span<const std::byte> in) {
  Vcpu& v = vcpus_[vcpu];
  const bool write = !in.empty();
  const std::uint64_t off = kvm::core_offset(id);
  const std::uint64_t nr_regs = layout::kSizeofKvmRegs / sizeof(std::uint32_t);
  if (off >= nr_regs || off + kvm::reg_size(id) / sizeof(std::uint32_t) >= nr_regs)
    return make_error(ENOENT, "vCPU {}: core register offset {:#x} is outside struct kvm_regs ({})", vcpu, off,
                      kvm::reg_name(id));
  const std::uint64_t want = core_size_field(off);
  if (want == 0)
    return make_error(EINVAL, "vCPU {}: no core register starts at offset {:#x} ({})", vcpu, off, kvm::reg_name(id));
  if (kvm::reg_size_field(id) != want)
    return make_error(EINVAL, "vCPU {}: {} is {} bytes, the ID says {}", vcpu, kvm::reg_name(with_size(id, want)),
                      kvm::reg_size(want), kvm::reg_size(id));
  const std::size_t byte = off * sizeof(std::uint32_t);
  if (v.has_sve && byte >= layout::kVregs && byte < layout::kFpsr)
    return make_error(EINVAL, "vCPU {}: FPSIMD {} is not accessible on an SVE vCPU; use z{}", vcpu, kvm::reg_name(id),
                      (byte - layout::kVregs) / 16);
  const std::size_t size = kvm::reg_size(id);
  if (write)
    std::memcpy(v.core.data() + byte, in.data(), size);
  else
    std::memcpy(out.data(), v.core.data() + byte, size);
  return {};
}

// get_sve_reg()/set_sve_reg(), get_sve_vls()/set_sve_vls().
Status SimBackend::sve_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out,
                              std::span<const std::byte> in) {
  Vcpu& v = vcpus_[vcpu];
  const bool write = !in.empty();
  const std::string name = kvm::reg_name(id);

  if (kvm::is_sve_vls(id)) {
    if (!v.has_sve) return make_error(ENOENT, "vCPU {} has no SVE ({})", vcpu, name);
    if (!write) {
      v.vls.to_bytes(out.first<kvm::kVlsBytes>());
      return {};
    }
    if (v.finalized)
      return make_error(EPERM, "vCPU {}: SVE already finalized, vector lengths are frozen ({})", vcpu, name);
    const kvm::VqSet want = kvm::VqSet::from_bytes(in.first<kvm::kVlsBytes>());
    if (want.empty()) return make_error(EINVAL, "vCPU {}: empty vector-length set ({})", vcpu, name);
    if (want.max() > host_vls_.max())
      return make_error(EINVAL, "vCPU {}: {} exceeds the host's {} ({})", vcpu, want.to_string(), host_vls_.to_string(),
                        name);
    // set_sve_vls(): the host cannot hide single lengths, only cap the
    // maximum (ZCR_EL2.LEN), so the set must equal the host's lengths up
    // to its own maximum.
    for (unsigned vq = 1; vq <= want.max(); ++vq)
      if (want.has(vq) != host_vls_.has(vq))
        return make_error(EINVAL, "vCPU {}: {} is not the host's lengths ({}) up to {} bits ({})", vcpu,
                          want.to_string(), host_vls_.to_string(), want.max() * 128, name);
    v.vls = want;
    return {};
  }

  // sve_reg_to_region(): outside the Z and P/FFR ID ranges (which fixes
  // the size field) is EINVAL; a vCPU without SVE or a slice > 0 (VL <=
  // 2048 bits needs one slice) is ENOENT; then EPERM until finalized.
  std::span<std::byte> reg;
  std::size_t valid = 0;
  const unsigned max_vq = v.vls.max();
  if (kvm::is_sve_zreg(id)) {
    reg = v.z[kvm::sve_reg_num(id)];
    valid = 16 * std::size_t{max_vq};
  } else if (kvm::is_sve_preg(id)) {
    reg = v.p[kvm::sve_reg_num(id)];
    valid = 2 * std::size_t{max_vq};
  } else if (kvm::is_sve_ffr(id)) {
    reg = v.ffr;
    valid = 2 * std::size_t{max_vq};
  } else {
    return make_error(EINVAL, "vCPU {}: no SVE register {}", vcpu, name);
  }
  if (!v.has_sve) return make_error(ENOENT, "vCPU {} has no SVE ({})", vcpu, name);
  if (kvm::sve_slice(id) != 0)
    return make_error(ENOENT, "vCPU {}: SVE slices above 0 do not exist while VL <= 2048 bits ({})", vcpu, name);
  if (!v.finalized) return make_error(EPERM, "vCPU {}: SVE not finalized yet ({})", vcpu, name);

  // KVM copies the maximum-VL part of sve_state and zero-fills the rest of
  // the container on read; on write it ignores bytes above the maximum VL.
  valid = std::min(valid, reg.size());
  if (write) {
    std::copy_n(in.begin(), valid, reg.begin());
    std::fill(reg.begin() + static_cast<std::ptrdiff_t>(valid), reg.end(), std::byte{0});
  } else {
    std::copy_n(reg.begin(), valid, out.begin());
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(valid), out.end(), std::byte{0});
  }
  return {};
}

// kvm_arm_sys_reg_{get,set}_reg(): unknown or hidden registers are ENOENT.
Status SimBackend::sysreg_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out,
                                 std::span<const std::byte> in) {
  Vcpu& v = vcpus_[vcpu];
  const bool write = !in.empty();
  const std::uint64_t as_u64 = with_size(id, kvm::kRegSizeU64);
  const std::string name = kvm::reg_name(as_u64);

  // sys_reg_descs[] has entries for SPSR_EL1/ELR_EL1 (to trap a nested
  // guest's accesses) but no storage index or get_user, which
  // id_to_sys_reg_desc() reports as "not otherwise accessible": ENOENT.
  if (as_u64 == kvm::elr_el1() || as_u64 == kvm::spsr_el1())
    return make_error(ENOENT, "vCPU {}: KVM has no ONE_REG access to {}; use core {}", vcpu, name,
                      as_u64 == kvm::elr_el1() ? "elr_el1" : "spsr[0]");
  if (as_u64 == kvm::zcr_el1() && !v.has_sve) return make_error(ENOENT, "vCPU {} has no SVE ({})", vcpu, name);

  const auto it = std::find_if(v.sysregs.begin(), v.sysregs.end(), [&](const auto& e) { return e.first == as_u64; });
  if (it == v.sysregs.end())
    return make_error(ENOENT, "vCPU {}: no system register {} in the simulated guest", vcpu, kvm::reg_name(id));
  // KVM itself answers a non-U64 system register ID with ENOENT
  // (index_to_params()); the Backend contract reports bad sizes as EINVAL.
  if (kvm::reg_size_field(id) != kvm::kRegSizeU64)
    return make_error(EINVAL, "vCPU {}: {} is 8 bytes, the ID says {}", vcpu, name, kvm::reg_size(id));

  if (!write) {
    const auto bytes = bytes_of(it->second);
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return {};
  }
  const auto value = load<std::uint64_t>(in);
  // MIDR_EL1 is an invariant register (get_invariant_sys_reg /
  // set_invariant_sys_reg): writing another value than the host's is EINVAL.
  if (as_u64 == kvm::midr_el1() && value != it->second)
    return make_error(EINVAL, "vCPU {}: {} is invariant ({:#x}), cannot write {:#x}", vcpu, name, it->second, value);
  it->second = value;
  return {};
}

Status SimBackend::finalize(unsigned vcpu) {
  std::lock_guard lock(mu_);
  return finalize_locked(vcpu);
}

// kvm_arm_vcpu_finalize(): KVM_ARM_VCPU_SVE without SVE is EINVAL, a second
// finalization EPERM. kvm_vcpu_finalize_sve() sizes sve_state for the
// maximum vq in VLS; our containers are already zero there.
Status SimBackend::finalize_locked(unsigned vcpu) {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  Vcpu& v = vcpus_[vcpu];
  if (!v.has_sve) return make_error(EINVAL, "vCPU {} has no SVE to finalize", vcpu);
  if (v.finalized) return make_error(EPERM, "vCPU {}: SVE already finalized", vcpu);
  v.finalized = true;
  return {};
}

// --- memory ---------------------------------------------------------------

Result<std::size_t> SimBackend::ram_offset_locked(std::uint64_t gpa) const {
  if (gpa < cfg_.ram_base || gpa - cfg_.ram_base >= ram_.size())
    return make_error(EFAULT, "no guest RAM at {:#x} (RAM is {:#x}..{:#x})", gpa, cfg_.ram_base,
                      cfg_.ram_base + ram_.size() - 1);
  return static_cast<std::size_t>(gpa - cfg_.ram_base);
}

Result<std::size_t> SimBackend::read_phys(std::uint64_t gpa, std::span<std::byte> out) {
  std::lock_guard lock(mu_);
  auto off = ram_offset_locked(gpa);
  if (!off) return off;
  const std::size_t n = std::min(out.size(), ram_.size() - *off);
  std::copy_n(ram_.begin() + static_cast<std::ptrdiff_t>(*off), n, out.begin());
  return n;
}

Result<std::size_t> SimBackend::write_phys(std::uint64_t gpa, std::span<const std::byte> in) {
  std::lock_guard lock(mu_);
  auto off = ram_offset_locked(gpa);
  if (!off) return off;
  const std::size_t n = std::min(in.size(), ram_.size() - *off);
  std::copy_n(in.begin(), n, ram_.begin() + static_cast<std::ptrdiff_t>(*off));
  return n;
}

}  // namespace svedbg::introspect
