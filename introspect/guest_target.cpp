// GuestTarget (guest_target.hpp): creation, the target description per
// vector length, threads = vCPUs. Registers, memory and run control are in
// guest_registers.cpp, guest_memory_access.cpp and guest_run.cpp.
#include "introspect/guest_target.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "introspect/guest_target_detail.hpp"
#include "introspect/paused_guest.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

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
  cache_.set_before_fetch([this] { (void)settle(); });
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
  if (auto stopped = check_stopped(vcpu); !stopped) return stopped.error();
  const auto& st = vcpus_.at(vcpu);
  VcpuVl vl;
  vl.sve = st.sve;
  if (!st.sve) return vl;
  vl.max_vq = st.vls.max();
  if (backend_.batches_reads() && !cache_.contains(vcpu, kvm::zcr_el1())) {
    // Where a batch costs what one read does (an attached VMM: a trip),
    // read every vCPU's ZCR_EL1 at once: a thread list needs each one's VL
    // (qXfer:threads), and a 64-vCPU guest would otherwise cost 64 trips.
    std::vector<StopCache::Key> zcrs;
    for (unsigned v = 0; v < vcpus_.size(); ++v)
      if (vcpus_[v].sve) zcrs.emplace_back(v, kvm::zcr_el1());
    cache_.prefetch(zcrs);
  }
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
  (void)settle();
  auto v = vcpu_of(tid);
  if (!v) return v.error().message;
  const unsigned n = backend_.vmm_index(*v);
  if (non_stop_ && thread_running(tid)) return fmt::format("vCPU {}, running", n);
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

}  // namespace svedbg::introspect
