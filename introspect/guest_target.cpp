#include "introspect/guest_target.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "introspect/paused_guest.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

using gdbstub::ResumeKind;
using gdbstub::Signal;
using gdbstub::StopEvent;
using gdbstub::ThreadId;
using xml::RegClass;

namespace {

std::uint64_t load_u64(std::span<const std::byte> b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(8, b.size()); ++i)
    v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
  return v;
}

Bytes store_u64(std::uint64_t v) {
  Bytes b(8);
  for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::byte>(v >> (8 * i));
  return b;
}

bool all_zero(std::span<const std::byte> b) {
  return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// Expedited with every stop, as gdbserver's aarch64 backend does.
constexpr unsigned kX29 = 29, kSp = 31, kPc = 32;

}  // namespace

Result<TdescVl> parse_tdesc_vl(const std::string& text) {
  if (text == "max") return TdescVl{TdescVl::Mode::Max, 0};
  if (text == "effective") return TdescVl{TdescVl::Mode::Effective, 0};
  unsigned bits = 0;
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos ||
      (bits = static_cast<unsigned>(std::stoul(text))) % 128 != 0 || bits == 0 || bits > 128 * xml::kMaxVq)
    return make_error(
        EINVAL, "--tdesc-vl must be max, effective, or a VL in bits (128..2048, a multiple of 128), not '{}'", text);
  return TdescVl{TdescVl::Mode::Fixed, bits / 128};
}

std::string to_string(const TdescVl& t) {
  switch (t.mode) {
    case TdescVl::Mode::Max: return "max";
    case TdescVl::Mode::Effective: return "effective";
    case TdescVl::Mode::Fixed: return std::to_string(t.vq * 128);
  }
  return "?";
}

GuestTarget::GuestTarget(kvm::Backend& backend, GuestOptions options)
    : backend_(backend),
      run_(backend.run_control()),
      options_(options),
      cache_(backend),
      breakpoints_(run_ ? run_->debug_caps() : kvm::DebugCaps{}),
      applied_debug_(backend.vcpu_count()) {
  add_monitor_commands();
}

Result<std::unique_ptr<GuestTarget>> GuestTarget::create(kvm::Backend& backend, GuestOptions options) {
  std::unique_ptr<GuestTarget> t(new GuestTarget(backend, options));
  if (backend.vcpu_count() == 0) return make_error(ENODEV, "{}: the guest has no vCPUs", backend.name());
  unsigned union_max = 0;
  kvm::VqSet any;
  for (unsigned v = 0; v < backend.vcpu_count(); ++v) {
    VcpuStatic st;
    // KVM_REG_ARM64_SVE_VLS is readable at any time; ENOENT means the vCPU
    // was created without KVM_ARM_VCPU_SVE.
    Bytes raw(kvm::reg_size(kvm::sve_vls()));
    auto r = backend.get_one_reg(v, kvm::sve_vls(), raw);
    if (r) {
      st.sve = true;
      for (std::size_t w = 0; w < st.vls.words.size(); ++w)
        st.vls.words[w] = load_u64(std::span(raw).subspan(8 * w, 8));
      if (st.vls.empty()) {
        st.sve = false;
        st.probe_error = fmt::format("vCPU {}: SVE_VLS is empty", backend.vmm_index(v));
      } else {
        union_max = std::max(union_max, st.vls.max());
        for (unsigned vq : st.vls.list()) any.set(vq);
      }
    } else if (r.error().code != ENOENT) {
      st.probe_error = r.error().message;
    }
    t->vcpus_.push_back(st);
  }
  t->sve_ = union_max > 0;
  t->max_vq_ = t->sve_ ? union_max : 1;
  t->effective_ = options.tdesc.mode == TdescVl::Mode::Effective;
  switch (options.tdesc.mode) {
    case TdescVl::Mode::Max: t->desc_vq_ = t->max_vq_; break;
    case TdescVl::Mode::Fixed:
      if (!t->sve_) return make_error(EINVAL, "--tdesc-vl {}: no vCPU has SVE", to_string(options.tdesc));
      if (!any.has(options.tdesc.vq))
        return make_error(EINVAL, "--tdesc-vl {}: no vCPU has that vector length enabled (enabled: {})",
                          to_string(options.tdesc), any.to_string());
      t->desc_vq_ = options.tdesc.vq;
      break;
    case TdescVl::Mode::Effective: {
      t->desc_vq_ = 1;
      if (t->sve_) {
        auto vl = t->vcpu_vl(0);
        t->desc_vq_ = vl && vl->sve ? vl->effective_vq : union_max;
      }
      break;
    }
  }
  return t;
}

Result<VcpuVl> GuestTarget::vcpu_vl(unsigned vcpu) {
  const auto& st = vcpus_.at(vcpu);
  VcpuVl vl;
  vl.sve = st.sve;
  if (!st.sve) return vl;
  vl.max_vq = st.vls.max();
  auto zcr = cache_.get(vcpu, kvm::zcr_el1());
  if (!zcr) return zcr.error();
  vl.effective_vq = kvm::effective_vq(st.vls, load_u64(**zcr));
  return vl;
}

Result<unsigned> GuestTarget::vcpu_of(ThreadId tid) {
  if (tid == 0 || tid > backend_.vcpu_count())
    return make_error(ESRCH, "no thread {} (the guest has {} vCPUs)", tid, backend_.vcpu_count());
  return static_cast<unsigned>(tid - 1);
}

unsigned GuestTarget::size_vq(const VcpuVl& vl) const {
  if (effective_ && vl.sve) return vl.effective_vq;
  return desc_vq_;
}

const std::vector<xml::RegSpec>& GuestTarget::table() const { return xml::register_table(sve_, desc_vq_); }

std::vector<ThreadId> GuestTarget::threads() {
  std::vector<ThreadId> out;
  for (unsigned v = 0; v < backend_.vcpu_count(); ++v) out.push_back(v + 1);
  return out;
}

bool GuestTarget::thread_alive(ThreadId tid) { return tid >= 1 && tid <= backend_.vcpu_count(); }

std::string GuestTarget::thread_extra_info(ThreadId tid) {
  auto v = vcpu_of(tid);
  if (!v) return v.error().message;
  const unsigned n = backend_.vmm_index(*v);
  auto vl = vcpu_vl(*v);
  if (!vl) return fmt::format("vCPU {}, VL unknown ({})", n, vl.error().message);
  if (!vl->sve) return fmt::format("vCPU {}, no SVE", n);
  return fmt::format("vCPU {}, VL {} bits", n, vl->effective_vq * 128);
}

unsigned GuestTarget::thread_cpu(ThreadId tid) {
  auto v = vcpu_of(tid);
  return v ? backend_.vmm_index(*v) : static_cast<unsigned>(tid - 1);
}

Result<std::string> GuestTarget::features_document(std::string_view annex) {
  if (annex != "target.xml") return make_error(ENOENT, "no target description '{}'", annex);
  if (effective_ && sve_) {
    auto vl = vcpu_vl(static_cast<unsigned>(last_stop_.thread - 1));
    if (vl && vl->sve) desc_vq_ = vl->effective_vq;
  }
  return xml::target_xml(sve_, desc_vq_);
}

Result<Bytes> GuestTarget::read_reg(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl) {
  if (spec.cls == RegClass::Vg) {
    // vg counts 64-bit granules: VL/64 = 2 * vq. A vCPU without SVE in an SVE
    // description shows its 128-bit FPSIMD view (vg 2).
    return store_u64(vl.sve ? 2u * vl.effective_vq : 2u);
  }
  auto id = kvm_id_for(spec, vl.sve);
  if (!id) return to_gdb(spec, {}, vl, size_vq(vl));
  auto raw = cache_.get(vcpu, *id);
  if (!raw) return raw.error();
  return to_gdb(spec, **raw, vl, size_vq(vl));
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
  auto id = kvm_id_for(spec, vl.sve);
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
  const auto own = kvm_id_for(*r->spec, r->vl.sve);
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
      if (read_group(spec.cls) == group)
        if (auto id = kvm_id_for(spec, r->vl.sve)) ids.push_back(*id);
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
  for (const auto& spec : table())
    if (auto id = kvm_id_for(spec, vl->sve)) ids.push_back(*id);
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
  std::vector<std::uint64_t> ids{kvm::core_x(kX29), kvm::core_sp(), kvm::core_pc()};
  if (vcpu < vcpus_.size() && vcpus_[vcpu].sve) ids.push_back(kvm::zcr_el1());
  if (backend_.batches_reads() && !phys_mode_)
    for (auto id : {kvm::sctlr_el1(), kvm::tcr_el1(), kvm::ttbr0_el1(), kvm::ttbr1_el1()}) ids.push_back(id);
  cache_.prefetch(vcpu, ids);
}

std::vector<unsigned> GuestTarget::expedited_registers(ThreadId tid) {
  // Called to build a stop reply, which reads these next.
  if (auto v = vcpu_of(tid)) prefetch_stop_registers(*v);
  std::vector<unsigned> regs{kX29, kSp, kPc};
  for (const auto& spec : table())
    if (spec.cls == RegClass::Vg) regs.push_back(spec.regnum);
  return regs;
}

Result<TranslationRegs> GuestTarget::translation_regs(unsigned vcpu) {
  TranslationRegs regs{};
  const std::pair<std::uint64_t, std::uint64_t*> wanted[] = {{kvm::sctlr_el1(), &regs.sctlr_el1},
                                                             {kvm::tcr_el1(), &regs.tcr_el1},
                                                             {kvm::ttbr0_el1(), &regs.ttbr0_el1},
                                                             {kvm::ttbr1_el1(), &regs.ttbr1_el1}};
  const std::uint64_t ids[] = {wanted[0].first, wanted[1].first, wanted[2].first, wanted[3].first};
  cache_.prefetch(vcpu, ids);
  for (const auto& [id, out] : wanted) {
    auto raw = cache_.get(vcpu, id);
    if (!raw) return raw.error();
    *out = load_u64(**raw);
  }
  return regs;
}

Status GuestTarget::access_memory(
    ThreadId tid, std::uint64_t addr, std::size_t len,
    const std::function<Result<std::size_t>(std::uint64_t pa, std::size_t offset, std::size_t n)>& chunk,
    std::size_t& done) {
  done = 0;
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  if (phys_mode_) {
    auto n = chunk(addr, 0, len);
    if (!n) return n.error();
    done = *n;
    return {};
  }
  // gdb addresses are virtual: translate through the vCPU's stage-1 tables
  // (introspect/page_walk.hpp) one mapping at a time. With the MMU off the
  // walk is the identity.
  auto regs = translation_regs(*v);
  if (!regs) return regs.error();
  const PhysReader reader = backend_phys_reader(backend_);
  while (done < len) {
    auto t = translate(*regs, addr + done, reader);
    if (!t) return done ? Status{} : Status{t.error()};
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(t->size, len - done));
    auto got = chunk(t->pa, done, n);
    if (!got) return done ? Status{} : Status{got.error()};
    done += *got;
    if (*got < n) break;
  }
  return {};
}

Result<Bytes> GuestTarget::read_memory(ThreadId tid, std::uint64_t addr, std::size_t len) {
  Bytes out(len);
  std::size_t done = 0;
  auto st = access_memory(
      tid, addr, len,
      [&](std::uint64_t pa, std::size_t offset, std::size_t n) {
        return backend_.read_phys(pa, std::span(out).subspan(offset, n));
      },
      done);
  if (!st) return st.error();
  out.resize(done);
  return out;
}

Status GuestTarget::write_memory(ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) {
  if (options_.read_only && !data.empty())
    return make_error(EROFS, "memory at {:#x} not written: svedbg runs --read-only", addr);
  return write_guest(tid, addr, data);
}

Result<std::vector<GuestTarget::PhysPiece>> GuestTarget::write_pieces(ThreadId tid, std::uint64_t addr,
                                                                      std::size_t len) {
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  if (len != 0 && addr + (len - 1) < addr)
    return make_error(EFAULT, "{} bytes at {:#x} run past the end of the address space", len, addr);
  std::vector<PhysPiece> pieces;
  if (phys_mode_) {
    if (len != 0) pieces.push_back(PhysPiece{addr, 0, len});
    return pieces;
  }
  auto regs = translation_regs(*v);
  if (!regs) return regs.error();
  const PhysReader reader = backend_phys_reader(backend_);
  for (std::size_t done = 0; done < len;) {
    auto t = translate(*regs, addr + done, reader);
    if (!t)
      return make_error(EFAULT, "nothing written at {:#x}: {:#x} does not translate: {}", addr, addr + done,
                        t.error().message);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(t->size, len - done));
    pieces.push_back(PhysPiece{t->pa, done, n});
    done += n;
  }
  return pieces;
}

Status GuestTarget::check_ram(std::uint64_t pa, std::size_t n) {
  const std::uint64_t end = pa + n;
  if (end < pa) return make_error(EFAULT, "guest-physical {:#x}+{:#x} wraps the address space", pa, n);
  const auto map = backend_.memory_map();
  if (map.empty()) {
    // The backend cannot list its RAM: what reads back in full is RAM.
    Bytes probe(n);
    auto got = backend_.read_phys(pa, probe);
    if (got && *got == n) return {};
    return make_error(EFAULT, "guest-physical {:#x}..{:#x} is not all guest RAM", pa, end - 1);
  }
  std::uint64_t at = pa;
  for (const auto& r : map) {  // ascending and disjoint
    if (at >= end) break;
    if (at >= r.gpa && at - r.gpa < r.size) at = std::min(end, r.gpa + r.size);
  }
  if (at < end)
    return make_error(EFAULT, "guest-physical {:#x}..{:#x} is not all guest RAM ({:#x} is not)", pa, end - 1, at);
  return {};
}

Status GuestTarget::write_guest(ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) {
  // All or nothing: every byte's translation and RAM are checked before the
  // first one is written.
  auto pieces = write_pieces(tid, addr, data.size());
  if (!pieces) return pieces.error();
  for (const auto& p : *pieces)
    if (auto st = check_ram(p.pa, p.n); !st)
      return make_error(EFAULT, "nothing written at {:#x}: {}", addr, st.error().message);
  for (const auto& p : *pieces) {
    auto got = backend_.write_phys(p.pa, data.subspan(p.offset, p.n));
    if (!got) return got.error();
    if (*got != p.n)
      return make_error(EFAULT, "wrote {} of {} bytes at {:#x}: the backend stopped early", p.offset + *got,
                        data.size(), addr);
  }
  return {};
}

Status GuestTarget::attach() {
  cache_.invalidate();
  // Each client gets the mode asked for until its qSupported says otherwise.
  effective_ = options_.tdesc.mode == TdescVl::Mode::Effective;
  effective_refused_.clear();
  // Like gdbserver after attaching: report SIGTRAP on the first thread.
  last_stop_ = StopEvent{1, Signal::Trap};
  if (!run_) return {};  // never runs: always stopped
  // All-stop: every vCPU stops before the client's first request.
  if (auto r = stop_all_vcpus(backend_.name(), *run_, std::chrono::seconds(5)); !r) return r.error();
  // A stop nobody collected belongs to the previous client, unless the
  // guest is gone: then every client hears so (an X reply to `?`).
  if (auto s = run_->poll_stop(); s && s->reason == kvm::StopReason::Exited) {
    last_stop_ = to_stop(*s);
  }
  return {};
}

void GuestTarget::client_features(std::span<const std::string> features) {
  // gdb announces qRelocInsn+ (tracepoint relocation; gdb-multiarch 13.1
  // does), lldb does not (lldb 14.0.6). gdb lays out the `g` packet from the
  // description it read at connect and refuses a shorter one ("Truncated
  // register N in remote 'g' packet", gdb 13.1, tests/e2e/
  // test_gdb_sve_ext.py), so per-thread sizes would break every thread whose
  // VL differs: serve it the Max description instead.
  if (options_.tdesc.mode != TdescVl::Mode::Effective) return;
  const bool gdb = std::ranges::find(features, std::string("qRelocInsn+")) != features.end();
  effective_ = !gdb;
  effective_refused_.clear();
  if (!gdb) return;
  desc_vq_ = max_vq_;
  effective_refused_ = fmt::format(
      "--tdesc-vl effective is for lldb; this client is gdb (qSupported has qRelocInsn+), which cannot resize "
      "registers of a remote target: serving the largest enabled VL ({} bits) instead; $vg tells each thread's VL",
      max_vq_ * 128);
  if (options_.log)
    options_.log(effective_refused_);
  else
    std::fprintf(stderr, "svedbg: %s\n", effective_refused_.c_str());
}

Status GuestTarget::resume(std::span<const gdbstub::ResumeAction> actions) {
  if (!run_) return make_error(EPERM, "the {} target cannot run (it offers no run control)", backend_.name());
  std::vector<unsigned> step;
  bool others_run = false;
  for (const auto& a : actions) {
    if (a.kind == ResumeKind::Stop) continue;  // all-stop: vCPUs are stopped already
    if (!a.thread) {
      if (a.kind == ResumeKind::Continue) {
        others_run = true;
      } else {
        for (unsigned v = 0; v < backend_.vcpu_count(); ++v)
          if (std::find(step.begin(), step.end(), v) == step.end()) step.push_back(v);
      }
      continue;
    }
    auto v = vcpu_of(*a.thread);
    if (!v) return v.error();
    if (a.kind == ResumeKind::Step) {
      if (std::find(step.begin(), step.end(), *v) == step.end()) step.push_back(*v);
    } else {
      others_run = true;  // a per-thread continue in all-stop resumes the guest
    }
  }
  cache_.invalidate();
  if (auto st = apply_guest_debug(); !st) return st;
  return run_->resume(step, others_run);
}

void GuestTarget::interrupt() {
  if (run_) run_->interrupt();
}

StopEvent GuestTarget::to_stop(const kvm::BackendStop& s) {
  std::uint64_t pc = 0;
  if (auto raw = cache_.get(s.vcpu, kvm::core_pc())) pc = load_u64(**raw);
  return breakpoints_.classify(s, pc);
}

Breakpoints::ReadMemory GuestTarget::memory_reader() {
  return [this](std::uint64_t addr, std::size_t len) { return read_memory(last_stop_.thread, addr, len); };
}

Breakpoints::WriteMemory GuestTarget::memory_writer() {
  // Breakpoint bytes bypass --read-only's memory check: inserting was
  // already refused in read-only mode, and restoring original bytes must
  // always be possible.
  return [this](std::uint64_t addr, std::span<const std::byte> data) {
    return write_guest(last_stop_.thread, addr, data);
  };
}

Status GuestTarget::insert_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  if (!run_ || !run_->debug_caps().guest_debug)
    return make_error(EOPNOTSUPP, "{}: breakpoints need guest debug support, which this backend lacks",
                      backend_.name());
  if (options_.read_only && type == gdbstub::BreakpointType::Software)
    return make_error(EROFS, "software breakpoint at {:#x} not inserted: svedbg runs --read-only", addr);
  auto st = breakpoints_.insert(type, addr, kind, memory_reader(), memory_writer());
  cache_.invalidate();  // memory or debug state changed
  return st;
}

Status GuestTarget::remove_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) {
  auto st = breakpoints_.remove(type, addr, kind, memory_writer());
  cache_.invalidate();
  return st;
}

Status GuestTarget::apply_guest_debug() {
  // KVM_SET_GUEST_DEBUG only where it changes, and only while stopped.
  if (!run_) return {};
  const kvm::GuestDebug want = breakpoints_.guest_debug();
  for (unsigned v = 0; v < applied_debug_.size(); ++v) {
    if (applied_debug_[v] == want) continue;
    auto st = run_->set_guest_debug(v, want);
    if (!st) return st;
    applied_debug_[v] = want;
  }
  return {};
}

void GuestTarget::clear_debug_state() {
  // Detach and kill leave no breakpoint bytes and no debug setting behind.
  (void)breakpoints_.remove_all(memory_writer());
  (void)apply_guest_debug();
}

std::optional<StopEvent> GuestTarget::poll_stop() {
  if (!run_) return std::nullopt;
  auto s = run_->poll_stop();
  if (!s) return std::nullopt;
  cache_.invalidate();
  if (s->reason != kvm::StopReason::Exited && s->vcpu < backend_.vcpu_count()) prefetch_stop_registers(s->vcpu);
  last_stop_ = to_stop(*s);
  return last_stop_;
}

void GuestTarget::set_stop_notifier(std::function<void()> notify) {
  if (run_) run_->set_stop_notifier(std::move(notify));
}

StopEvent GuestTarget::last_stop() { return last_stop_; }

Detached GuestTarget::detach() {
  // Removing breakpoints needs the vCPUs stopped (their registers translate
  // the addresses and KVM's vCPU ioctls wait for KVM_RUN): a client that
  // drops while the guest runs gets it stopped first; the backend's
  // detach() lets it run on.
  if (run_ && run_->running() && stop_all_vcpus(backend_.name(), *run_, std::chrono::seconds(5)))
    (void)run_->poll_stop();
  clear_debug_state();
  cache_.invalidate();
  return backend_.detach();
}

void GuestTarget::kill() {
  clear_debug_state();
  cache_.invalidate();
  if (run_) run_->kill();
}

}  // namespace svedbg::introspect
