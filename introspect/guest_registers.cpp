// GuestTarget (guest_target.hpp): registers, read and written through the
// regmap and the backend's ONE_REG calls; a `G` or `P` is planned whole
// before any register changes.
#include "introspect/guest_target.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "introspect/guest_target_detail.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

namespace {

// PSTATE.M[3:0] of AArch64 EL1 using SP_EL1 (Arm ARM C5.2.19 SPSR_EL1.M:
// 0b0101 EL1h; 0b0100 EL1t and 0b0000 EL0t run on SP_EL0).
constexpr std::uint64_t kModeMask = 0xf, kModeEl1h = 0x5;

}  // namespace

std::optional<std::uint64_t> GuestTarget::kvm_id(unsigned vcpu, const xml::RegSpec& spec, bool sve) {
  // gdb's `sp` (regnum 31) is the stack pointer the code at pc uses, as
  // QEMU's gdbstub serves it (its xregs[31]): a kernel stopped at EL1h is
  // on SP_EL1. KVM keeps both in struct kvm_regs: `regs.sp` is SP_EL0
  // (where arm64 Linux keeps `current` while in the kernel) and `sp_el1` a
  // field of its own; serving regs.sp at EL1h broke gdb's backtraces of a
  // Linux guest kernel (nested case linux_ksyms).
  if (spec.cls != RegClass::Sp) return kvm_id_for(spec, sve);
  auto pstate = cache_.get(vcpu, kvm::core_pstate());
  if (pstate && (load_u64(**pstate) & kModeMask) == kModeEl1h) return kvm::core_sp_el1();
  return kvm::core_sp();
}

void GuestTarget::add_prefetch_ids(std::vector<std::uint64_t>& ids, const xml::RegSpec& spec, bool sve) {
  if (spec.cls == RegClass::Sp) {
    for (auto id : {kvm::core_pstate(), kvm::core_sp(), kvm::core_sp_el1()}) ids.push_back(id);
  } else if (auto id = kvm_id_for(spec, sve)) {
    ids.push_back(*id);
  }
}

Result<Bytes> GuestTarget::read_reg(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl) {
  if (spec.cls == RegClass::Vg) {
    // vg counts 64-bit granules: VL/64 = 2 * vq. A vCPU without SVE in an SVE
    // description shows its 128-bit FPSIMD view (vg 2).
    return store_u64(vl.sve ? 2u * vl.effective_vq : 2u);
  }
  auto id = kvm_id(vcpu, spec, vl.sve);
  if (!id) return to_gdb(spec, {}, vl, size_vq(vl));
  auto raw = cache_.get(vcpu, *id);
  if (!raw) return raw.error();
  return to_gdb(spec, **raw, vl, size_vq(vl));
}

namespace {

// Bytes of a Z, P or FFR register the vCPU's guest can reach at its
// effective VL (Arm ARM, "Effective vector length": bits above it are not
// accessible, and KVM keeps them zero); nullopt for other registers.
std::optional<std::size_t> reachable_bytes(const xml::RegSpec& spec, const VcpuVl& vl) {
  switch (spec.cls) {
    case RegClass::Z: return vl.sve ? 16u * vl.effective_vq : 16u;  // no SVE: the V register
    case RegClass::P:
    case RegClass::Ffr: return vl.sve ? 2u * vl.effective_vq : 0u;
    default: return std::nullopt;
  }
}

}  // namespace

Status GuestTarget::check_reachable(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl,
                                    std::span<const std::byte> data) {
  // A value above the effective VL cannot take effect: refuse it rather
  // than drop it. Zeros there are what gdb sends back when the user changes
  // a lane below the VL of a register it holds at the description's size.
  const auto reachable = reachable_bytes(spec, vl);
  if (!reachable || data.size() <= *reachable || all_zero(data.subspan(*reachable))) return {};
  const unsigned vl_bits = vl.sve ? 128u * vl.effective_vq : 128u;
  return make_error(ERANGE, "vCPU {}: {} not written: its effective VL is {} bits{}; bytes {} and up can only be zero",
                    backend_.vmm_index(vcpu), spec.name, vl_bits, vl.sve ? "" : " (no SVE: the V register)",
                    *reachable);
}

Result<std::optional<GuestTarget::RegChange>> GuestTarget::plan_reg_write(unsigned vcpu, const xml::RegSpec& spec,
                                                                          const VcpuVl& vl,
                                                                          std::span<const std::byte> data) {
  // Clients that size SVE registers from `vg` (lldb) write them at the
  // thread's effective VL even when the description is larger: accept that
  // size too; from_gdb() leaves the bytes above it zero.
  const bool vl_sized = vl.sve && (spec.cls == RegClass::Z || spec.cls == RegClass::P || spec.cls == RegClass::Ffr) &&
                        data.size() == gdb_size(spec, vl.effective_vq);
  if (data.size() != gdb_size(spec, size_vq(vl)) && !vl_sized)
    return make_error(EINVAL, "{}: {} bytes written, the register has {}", spec.name, data.size(),
                      gdb_size(spec, size_vq(vl)));
  if (spec.cls == RegClass::Vg) {
    // The guest chooses its VL by writing ZCR_EL1; vg only reflects it.
    if (load_u64(data) == (vl.sve ? 2u * vl.effective_vq : 2u)) return std::optional<RegChange>{};
    return make_error(EPERM, "vCPU {}: vg is read-only (the guest sets its VL through ZCR_EL1)",
                      backend_.vmm_index(vcpu));
  }
  if (auto st = check_reachable(vcpu, spec, vl, data); !st) return st.error();
  auto id = kvm_id(vcpu, spec, vl.sve);
  if (!id) {
    if (all_zero(data)) return std::optional<RegChange>{};
    return make_error(ENOENT, "vCPU {} has no SVE ({})", backend_.vmm_index(vcpu), spec.name);
  }
  auto raw = cache_.get(vcpu, *id);
  if (!raw) return raw.error();
  Bytes merged = **raw;
  from_gdb(spec, data, vl, merged);
  if (merged == **raw) return std::optional<RegChange>{};  // unchanged: don't touch the vCPU
  if (options_.read_only)
    return make_error(EROFS, "vCPU {}: {} not written: svedbg runs --read-only", backend_.vmm_index(vcpu), spec.name);
  if (spec.cls == RegClass::Sys && !options_.allow_sysreg_writes)
    return make_error(EPERM, "vCPU {}: {} is read-only (start svedbg with --allow-sysreg-writes)",
                      backend_.vmm_index(vcpu), spec.name);
  return std::optional<RegChange>{RegChange{*id, spec.name, **raw, std::move(merged)}};
}

Status GuestTarget::apply_reg_writes(unsigned vcpu, std::span<const RegChange> changes) {
  for (std::size_t i = 0; i < changes.size(); ++i) {
    auto st = cache_.set(vcpu, changes[i].id, changes[i].value);
    if (st) continue;
    // The backend refused one: put back those already written, last first.
    std::string unrestored;
    for (std::size_t j = i; j-- > 0;)
      if (!cache_.set(vcpu, changes[j].id, changes[j].old)) unrestored += " " + changes[j].name;
    if (unrestored.empty()) return make_error(st.error().code, "{} (nothing written)", st.error().message);
    return make_error(st.error().code, "{}; could not restore:{}", st.error().message, unrestored);
  }
  return {};
}

Status GuestTarget::write_reg(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl,
                              std::span<const std::byte> data) {
  auto change = plan_reg_write(vcpu, spec, vl, data);
  if (!change) return change.error();
  if (!*change) return {};
  return cache_.set(vcpu, (*change)->id, (*change)->value);
}

Result<GuestTarget::RegRef> GuestTarget::locate(ThreadId tid, unsigned regnum) {
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  const auto& regs = table();
  if (regnum >= regs.size()) return make_error(ENOENT, "no register {} (the description has {})", regnum, regs.size());
  auto vl = vcpu_vl(*v);
  if (!vl) return vl.error();
  return RegRef{*v, &regs[regnum], *vl};
}

namespace {

// Registers clients read together: the general registers, the FP/SVE set,
// the system registers (vg has no KVM register of its own).
int read_group(RegClass cls) {
  switch (cls) {
    case RegClass::X:
    case RegClass::Sp:
    case RegClass::Pc:
    case RegClass::Cpsr: return 0;
    case RegClass::V:
    case RegClass::Z:
    case RegClass::P:
    case RegClass::Ffr:
    case RegClass::Fpsr:
    case RegClass::Fpcr: return 1;
    case RegClass::Sys: return 2;
    case RegClass::Vg: return -1;
  }
  return -1;
}

}  // namespace

Result<Bytes> GuestTarget::read_register(ThreadId tid, unsigned regnum) {
  auto r = locate(tid, regnum);
  if (!r) return r.error();
  const int group = read_group(r->spec->cls);
  const auto own = kvm_id(r->vcpu, *r->spec, r->vl.sve);
  if (backend_.batches_reads() && group >= 0 && own && !cache_.contains(r->vcpu, *own)) {
    // A `p` of one register where a batch costs what one read does: read
    // the rest of its group of this thread now, as clients read them
    // together (gdb reads every Z, P and FFR right after one of them for
    // `info all-registers`, `info registers vector` or printing $z0..$z31;
    // lldb and other `p`-only clients read the general registers as a set,
    // and `info registers system` the system registers). Only when the
    // register asked for is not cached yet: the stop reply's registers,
    // read at the stop, don't pull their group in.
    std::vector<std::uint64_t> ids;
    for (const auto& spec : table())
      if (read_group(spec.cls) == group) add_prefetch_ids(ids, spec, r->vl.sve);
    cache_.prefetch(r->vcpu, ids);
  }
  return read_reg(r->vcpu, *r->spec, r->vl);
}

Status GuestTarget::write_register(ThreadId tid, unsigned regnum, std::span<const std::byte> data) {
  auto r = locate(tid, regnum);
  if (!r) return r.error();
  return write_reg(r->vcpu, *r->spec, r->vl, data);
}

Result<Bytes> GuestTarget::read_all_registers(ThreadId tid) {
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  auto vl = vcpu_vl(*v);
  if (!vl) return vl.error();
  // `g` needs every register of the description: fetch them in one batch.
  std::vector<std::uint64_t> ids;
  for (const auto& spec : table()) add_prefetch_ids(ids, spec, vl->sve);
  cache_.prefetch(*v, ids);
  Bytes out;
  for (const auto& spec : table()) {
    auto value = read_reg(*v, spec, *vl);
    if (!value && spec.cls == RegClass::Sys) {
      // One unreadable system register must not hide the rest of the block
      // from `g`; `p` on it still reports the KVM error.
      value = Bytes(gdb_size(spec, size_vq(*vl)), std::byte{0});
    }
    if (!value) return value.error();
    out.insert(out.end(), value->begin(), value->end());
  }
  return out;
}

bool GuestTarget::unreadable_zeros(unsigned vcpu, const xml::RegSpec& spec, bool sve, std::span<const std::byte> data) {
  // What `g` shows for a system register it cannot read; written back by a
  // G of that block, it is no change.
  auto id = kvm_id_for(spec, sve);
  return id && !cache_.get(vcpu, *id) && all_zero(data);
}

Status GuestTarget::write_all_registers(ThreadId tid, std::span<const std::byte> data) {
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  auto vl = vcpu_vl(*v);
  if (!vl) return vl.error();
  std::size_t total = 0;
  for (const auto& spec : table()) total += gdb_size(spec, size_vq(*vl));
  if (data.size() != total)
    return make_error(EINVAL, "G packet has {} bytes, the register block is {}", data.size(), total);
  // All or nothing: every register is checked before the first is written,
  // and one the backend refuses undoes those written before it.
  std::vector<RegChange> changes;
  std::size_t off = 0;
  for (const auto& spec : table()) {
    const std::size_t n = gdb_size(spec, size_vq(*vl));
    const auto bytes = data.subspan(off, n);
    off += n;
    if (spec.cls == RegClass::Sys && unreadable_zeros(*v, spec, vl->sve, bytes)) continue;
    auto change = plan_reg_write(*v, spec, *vl, bytes);
    if (!change) return make_error(change.error().code, "{} (G: nothing written)", change.error().message);
    if (*change) changes.push_back(std::move(**change));
  }
  return apply_reg_writes(*v, changes);
}

void GuestTarget::prefetch_stop_registers(unsigned vcpu) {
  // What a stop reply expedites (x29, sp, pc, and vg, which is ZCR_EL1),
  // in one batch. Where a batch costs what one read does, also what
  // translating a virtual address needs: after every stop gdb reads the
  // memory at pc (to show the instruction, to step over a breakpoint).
  // sp is SP_EL0 or SP_EL1 by PSTATE (kvm_id()): where a batch costs what
  // one read does both come with PSTATE, else PSTATE first and then the one
  // it selects.
  std::vector<std::uint64_t> ids{kvm::core_x(kX29), kvm::core_pc(), kvm::core_pstate()};
  if (backend_.batches_reads())
    for (auto id : {kvm::core_sp(), kvm::core_sp_el1()}) ids.push_back(id);
  if (vcpu < vcpus_.size() && vcpus_[vcpu].sve) ids.push_back(kvm::zcr_el1());
  if (backend_.batches_reads() && !phys_mode_)
    for (auto id : {kvm::sctlr_el1(), kvm::tcr_el1(), kvm::ttbr0_el1(), kvm::ttbr1_el1()}) ids.push_back(id);
  cache_.prefetch(vcpu, ids);
}

std::vector<unsigned> GuestTarget::expedited_registers(ThreadId tid) {
  // Called to build a stop reply, which reads these next.
  if (auto v = vcpu_of(tid); v && check_stopped(*v)) prefetch_stop_registers(*v);
  std::vector<unsigned> regs{kX29, kSp, kPc};
  for (const auto& spec : table())
    if (spec.cls == RegClass::Vg) regs.push_back(spec.regnum);
  return regs;
}

}  // namespace svedbg::introspect
