#include "introspect/core/core_backend.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/le_bytes.hpp"

namespace svedbg::introspect {
namespace {

namespace layout = kvm::layout;

constexpr std::uint64_t with_size(std::uint64_t id, std::uint64_t size_field) {
  return (id & ~kvm::kRegSizeMask) | size_field;
}

}  // namespace

Result<std::unique_ptr<CoreBackend>> CoreBackend::open(const std::string& path) {
  auto img = read_core(path);
  if (!img) return img.error();
  return std::unique_ptr<CoreBackend>(new CoreBackend(std::move(*img)));
}

std::string CoreBackend::describe() const {
  const auto& vs = core_.vcpus;
  const bool mine = std::all_of(vs.begin(), vs.end(), [](const CoreVcpu& v) { return v.svedbg_note; });
  const auto n_sve = std::count_if(vs.begin(), vs.end(), [](const CoreVcpu& v) { return v.sve; });
  std::uint64_t ram = 0;
  for (const auto& s : core_.segments) ram += s.size;
  return fmt::format("core file {}: {} vCPU{} ({} with SVE), {} bytes of memory in {} segment{}, {}", core_.path,
                     vs.size(), vs.size() == 1 ? "" : "s", n_sve, ram, core_.segments.size(),
                     core_.segments.size() == 1 ? "" : "s",
                     mine ? "written by svedbg" : "not written by svedbg (no EL1 system registers)");
}

Status CoreBackend::get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) {
  if (vcpu >= core_.vcpus.size())
    return make_error(ESRCH, "no vCPU {} (the core file has {})", vcpu, core_.vcpus.size());
  const CoreVcpu& v = core_.vcpus[vcpu];
  // Messages name the vCPU as the VMM did (the SVEDBG note's index), as
  // thread names do; without the note that is its position.
  const unsigned index = v.vmm_index;
  if (!kvm::is_arm64(id)) return make_error(EINVAL, "vCPU {}: {:#018x} is not an arm64 register ID", index, id);
  if (out.size() != kvm::reg_size(id))
    return make_error(EINVAL, "vCPU {}: {}-byte buffer for {} ({} bytes)", index, out.size(), kvm::reg_name(id),
                      kvm::reg_size(id));
  // Registers the SVEDBG note recorded (system registers, sp_el1, elr_el1, spsr).
  for (const auto& [rid, value] : v.extra) {
    if (rid != id || out.size() != 8) continue;
    store_le(out, 0, value);
    return {};
  }
  switch (kvm::reg_coproc(id)) {
    case kvm::kRegArmCore: return core_reg(v, id, out);
    case kvm::kRegArm64Sve: return sve_reg(v, id, out);
    case kvm::kRegArm64Sysreg:
      if (with_size(id, kvm::kRegSizeU64) == kvm::zcr_el1()) {
        if (!v.sve) return make_error(ENOENT, "vCPU {} has no SVE (ZCR_EL1)", index);
        if (kvm::reg_size_field(id) != kvm::kRegSizeU64)
          return make_error(EINVAL, "vCPU {}: ZCR_EL1 is 8 bytes, the ID says {}", index, kvm::reg_size(id));
        // The note's VL stands for what the guest wrote to ZCR_EL1.LEN.
        store_le<std::uint64_t>(out, 0, v.effective_vq - 1);
        return {};
      }
      break;
    default: break;
  }
  return make_error(ENOENT, "vCPU {}: {} is not recorded in the core file{}", index, kvm::reg_name(id),
                    v.svedbg_note ? "" : " (it has no SVEDBG note)");
}

Status CoreBackend::core_reg(const CoreVcpu& v, std::uint64_t id, std::span<std::byte> out) const {
  const unsigned index = v.vmm_index;  // as get_one_reg names it
  const std::uint64_t byte = kvm::core_offset(id) * sizeof(std::uint32_t);
  const std::uint64_t size = kvm::reg_size_field(id);
  bool recorded = false;
  if (size == kvm::kRegSizeU64 && byte < layout::kSpEl1 && byte % 8 == 0) recorded = true;  // x, sp, pc, pstate
  if (id == kvm::core_fpsr() || id == kvm::core_fpcr()) recorded = true;
  if (size == kvm::kRegSizeU128 && byte >= layout::kVregs && byte < layout::kFpsr &&
      (byte - layout::kVregs) % 16 == 0) {
    if (v.sve)
      return make_error(EINVAL, "vCPU {}: FPSIMD {} is not accessible on an SVE vCPU; use z{}", index,
                        kvm::reg_name(id), (byte - layout::kVregs) / 16);
    recorded = true;
  }
  if (!recorded)
    return make_error(ENOENT, "vCPU {}: {} is not recorded in the core file{}", index, kvm::reg_name(id),
                      v.svedbg_note ? "" : " (it has no SVEDBG note)");
  std::copy_n(v.core.begin() + static_cast<std::ptrdiff_t>(byte), out.size(), out.begin());
  return {};
}

Status CoreBackend::sve_reg(const CoreVcpu& v, std::uint64_t id, std::span<std::byte> out) const {
  const unsigned index = v.vmm_index;  // as get_one_reg names it
  const std::string name = kvm::reg_name(id);
  std::span<const std::byte> reg;
  if (kvm::is_sve_vls(id)) {
    if (!v.sve) return make_error(ENOENT, "vCPU {} has no SVE ({})", index, name);
    v.vls.to_bytes(out.first<kvm::kVlsBytes>());
    return {};
  }
  if (kvm::is_sve_zreg(id))
    reg = v.z[kvm::sve_reg_num(id)];
  else if (kvm::is_sve_preg(id))
    reg = v.p[kvm::sve_reg_num(id)];
  else if (kvm::is_sve_ffr(id))
    reg = v.ffr;
  else
    return make_error(EINVAL, "vCPU {}: no SVE register {}", index, name);
  if (!v.sve) return make_error(ENOENT, "vCPU {} has no SVE ({})", index, name);
  if (kvm::sve_slice(id) != 0)
    return make_error(ENOENT, "vCPU {}: SVE slices above 0 do not exist while VL <= 2048 bits ({})", index, name);
  std::copy(reg.begin(), reg.end(), out.begin());
  return {};
}

Status CoreBackend::set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte>) {
  return make_error(EROFS, "{} is a core file, read-only: cannot write {} of vCPU {}", core_.path, kvm::reg_name(id),
                    vcpu < core_.vcpus.size() ? core_.vcpus[vcpu].vmm_index : vcpu);
}

Result<std::size_t> CoreBackend::read_phys(std::uint64_t gpa, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t addr = gpa + done;
    const auto it = std::find_if(core_.segments.begin(), core_.segments.end(),
                                 [&](const CoreSegment& s) { return addr >= s.vaddr && addr - s.vaddr < s.size; });
    if (it == core_.segments.end()) break;
    const std::uint64_t in_seg = addr - it->vaddr;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, it->size - in_seg));
    const ssize_t got = ::pread(core_.fd.get(), out.data() + done, n, static_cast<off_t>(it->offset + in_seg));
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(EIO, "{}: reading memory at {:#x}: {}", core_.path, addr, std::strerror(errno));
    }
    if (got == 0) break;  // the file shrank under us
    done += static_cast<std::size_t>(got);
  }
  if (done == 0 && !out.empty()) return make_error(EFAULT, "no memory at {:#x} in the core file {}", gpa, core_.path);
  return done;
}

Result<std::size_t> CoreBackend::write_phys(std::uint64_t gpa, std::span<const std::byte>) {
  return make_error(EROFS, "{} is a core file, read-only: cannot write memory at {:#x}", core_.path, gpa);
}

std::vector<kvm::MemoryRange> CoreBackend::memory_map() const {
  std::vector<kvm::MemoryRange> out;
  for (const auto& s : core_.segments) out.push_back({s.vaddr, s.size});
  return out;
}

}  // namespace svedbg::introspect
