#include "introspect/core_writer.hpp"

#include <gelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "introspect/core/core_layout.hpp"
#include "introspect/core/elf_handle.hpp"
#include "introspect/guest_memory.hpp"
#include "common/le_bytes.hpp"

namespace svedbg::introspect {
namespace {

namespace cl = core_layout;
using Buf = std::vector<std::byte>;

constexpr std::uint64_t kPage = 4096;

void append_note(Buf& out, std::string_view name, std::uint32_t type, const Buf& desc) {
  const std::size_t namesz = name.size() + 1;
  const auto pad4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
  const std::size_t at = out.size();
  out.resize(at + 12 + pad4(namesz) + pad4(desc.size()));
  std::span<std::byte> b(out);
  store_le<std::uint32_t>(b, at, static_cast<std::uint32_t>(namesz));
  store_le<std::uint32_t>(b, at + 4, static_cast<std::uint32_t>(desc.size()));
  store_le<std::uint32_t>(b, at + 8, type);
  std::memcpy(out.data() + at + 12, name.data(), name.size());
  std::copy(desc.begin(), desc.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 12 + pad4(namesz)));
}

// The stack pointer PSTATE.M selects (Arm ARM C5.2.19 SPSR_EL1.M: 0b0101
// EL1h runs on SP_EL1; EL1t and EL0t on SP_EL0), which a process core's
// pt_regs.sp is and gdb's `sp` is live (GuestTarget::kvm_id). KVM's
// regs.sp (VcpuSnapshot::sp) is SP_EL0 whatever the mode: writing it at
// EL1h gave gdb a core whose kernel frames unwound from the wrong stack.
std::uint64_t mode_sp(const VcpuSnapshot& v) {
  constexpr std::uint64_t kModeMask = 0xf, kModeEl1h = 0x5;
  if ((v.pstate & kModeMask) != kModeEl1h) return v.sp;
  for (const auto& r : v.sysregs)
    if (r.id == kvm::core_sp_el1()) return r.value;
  return v.sp;  // SP_EL1 unreadable (sysreg_errors): SP_EL0 is all there is
}

Buf prstatus(const VcpuSnapshot& v) {
  Buf d(cl::kPrstatusSize);
  std::span<std::byte> b(d);
  store_le<std::uint16_t>(b, cl::kPrCursig, v.index == 0 ? SIGTRAP : 0);
  store_le<std::uint32_t>(b, cl::kPrPid, v.index + 1);
  for (unsigned n = 0; n < 31; ++n) store_le(b, cl::kPrReg + 8 * n, v.x[n]);
  store_le(b, cl::kPrReg + cl::kPtSp, mode_sp(v));
  store_le(b, cl::kPrReg + cl::kPtPc, v.pc);
  store_le(b, cl::kPrReg + cl::kPtPstate, v.pstate);
  store_le<std::uint32_t>(b, cl::kPrFpvalid, 1);
  return d;
}

void put_fpsimd(std::span<std::byte> b, const VcpuSnapshot& v) {
  for (unsigned n = 0; n < 32; ++n) std::copy_n(v.z[n].begin(), 16, b.begin() + 16 * n);
  store_le(b, cl::kFpsimdFpsr, v.fpsr);
  store_le(b, cl::kFpsimdFpcr, v.fpcr);
}

Buf fpregset(const VcpuSnapshot& v) {
  Buf d(cl::kFpsimdSize);
  put_fpsimd(d, v);
  return d;
}

// NT_ARM_SVE at payload vq `layout_vq` (0: FPSIMD layout) with header vl `header_vq`.
Buf sve_note(const VcpuSnapshot& v, unsigned layout_vq, unsigned header_vq) {
  const std::size_t size = layout_vq ? cl::sve_pt_size_sve(layout_vq) : cl::kSvePtSizeFpsimd;
  const unsigned max_vq = std::max({v.sve ? v.max_vq : 1u, header_vq, layout_vq});
  Buf d(size);
  std::span<std::byte> b(d);
  store_le<std::uint32_t>(b, cl::kSveHdrSize, static_cast<std::uint32_t>(size));
  store_le<std::uint32_t>(b, cl::kSveHdrMaxSize, static_cast<std::uint32_t>(cl::sve_pt_size_sve(max_vq)));
  store_le<std::uint16_t>(b, cl::kSveHdrVl, static_cast<std::uint16_t>(header_vq * cl::kSveVqBytes));
  store_le<std::uint16_t>(b, cl::kSveHdrMaxVl, static_cast<std::uint16_t>(max_vq * cl::kSveVqBytes));
  store_le<std::uint16_t>(b, cl::kSveHdrFlags, layout_vq ? cl::kSvePtRegsSve : cl::kSvePtRegsFpsimd);
  if (!layout_vq) {
    put_fpsimd(b.subspan(cl::kSvePtRegsOffset), v);
    return d;
  }
  const std::size_t zn = std::min(cl::sve_zreg_size(layout_vq), kvm::kZregBytes);
  const std::size_t pn = std::min(cl::sve_preg_size(layout_vq), kvm::kPregBytes);
  for (unsigned n = 0; n < 32; ++n) std::copy_n(v.z[n].begin(), zn, b.begin() + cl::sve_zreg_offset(layout_vq, n));
  for (unsigned n = 0; n < 16; ++n) std::copy_n(v.p[n].begin(), pn, b.begin() + cl::sve_preg_offset(layout_vq, n));
  std::copy_n(v.ffr.begin(), pn, b.begin() + cl::sve_ffr_offset(layout_vq));
  store_le(b, cl::sve_fpsr_offset(layout_vq), v.fpsr);
  store_le(b, cl::sve_fpcr_offset(layout_vq), v.fpcr);
  return d;
}

// The system registers, then SP_EL0 under KVM's regs.sp ID: NT_PRSTATUS's
// sp is SP_EL1 at EL1h (mode_sp), and CoreBackend answers an ID from these
// pairs before NT_PRSTATUS, so the core still gives back what KVM did.
Buf svedbg_note(const VcpuSnapshot& v, unsigned layout_vq) {
  const std::size_t pairs = v.sysregs.size() + 1;
  Buf d(cl::kSvedbgFixedSize + cl::kSvedbgPairSize * pairs);
  std::span<std::byte> b(d);
  store_le<std::uint32_t>(b, 0, cl::kSvedbgNoteVersion);
  store_le<std::uint32_t>(b, 4, v.vmm_index);
  store_le<std::uint32_t>(b, 8, v.sve ? cl::kSvedbgFlagSve : 0);
  store_le<std::uint32_t>(b, 12, v.effective_vq);
  for (unsigned w = 0; w < 8; ++w) store_le(b, 16 + 8 * w, v.vls.words[w]);
  store_le<std::uint32_t>(b, 80, layout_vq);
  store_le<std::uint32_t>(b, 84, static_cast<std::uint32_t>(pairs));
  std::size_t at = cl::kSvedbgFixedSize;
  for (const auto& r : v.sysregs) {
    store_le(b, at, r.id);
    store_le(b, at + 8, r.value);
    at += cl::kSvedbgPairSize;
  }
  store_le(b, at, kvm::core_sp());
  store_le(b, at + 8, v.sp);
  return d;
}

Buf build_notes(const std::vector<VcpuSnapshot>& vcpus, SveNotes mode) {
  unsigned largest = 0;
  for (const auto& v : vcpus)
    if (v.sve) largest = std::max(largest, v.max_vq);
  Buf notes;
  for (const auto& v : vcpus) {
    append_note(notes, cl::kCoreName, cl::kNtPrstatus, prstatus(v));
    append_note(notes, cl::kCoreName, cl::kNtFpregset, fpregset(v));
    unsigned layout_vq = 0;
    if (largest) {
      unsigned header_vq = 1;
      switch (mode) {
        case SveNotes::Gdb13:
          layout_vq = largest;
          header_vq = v.index == 0 ? largest : (v.sve ? v.effective_vq : 1);
          break;
        case SveNotes::Uniform: layout_vq = header_vq = largest; break;
        case SveNotes::Effective:
          layout_vq = v.sve ? v.effective_vq : 0;
          header_vq = v.sve ? v.effective_vq : 1;
          break;
      }
      // A vCPU without SVE keeps the FPSIMD layout unless gdb 13 needs the
      // first note to carry the description's VL.
      if (!v.sve && !(mode != SveNotes::Effective && v.index == 0)) layout_vq = 0;
      append_note(notes, cl::kLinuxName, cl::kNtArmSve, sve_note(v, layout_vq, header_vq));
    }
    append_note(notes, cl::kSvedbgName, cl::kSvedbgVcpuNote, svedbg_note(v, layout_vq));
  }
  return notes;
}

Status pwrite_all(int fd, std::span<const std::byte> data, std::uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errno, "writing the core file at offset {:#x}: {}", offset, std::strerror(errno));
    }
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

Result<SveNotes> parse_sve_notes(const std::string& text) {
  if (text == "gdb13") return SveNotes::Gdb13;
  if (text == "uniform") return SveNotes::Uniform;
  if (text == "effective") return SveNotes::Effective;
  return make_error(EINVAL, "--sve-notes must be gdb13, uniform or effective, not '{}'", text);
}

std::string to_string(SveNotes s) {
  switch (s) {
    case SveNotes::Gdb13: return "gdb13";
    case SveNotes::Uniform: return "uniform";
    case SveNotes::Effective: return "effective";
  }
  return "?";
}

Status write_core(int fd, const std::vector<VcpuSnapshot>& vcpus, kvm::Backend& backend,
                  const CoreWriteOptions& options) {
  const Buf notes = build_notes(vcpus, options.sve_notes);
  const auto map = options.memory ? backend.memory_map() : std::vector<kvm::MemoryRange>{};
  if (options.memory && map.empty())
    return make_error(ENOTSUP, "{}: the backend does not report its guest RAM ranges", backend.name());

  const std::size_t nph = 1 + map.size();
  const std::uint64_t notes_off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
  std::vector<std::uint64_t> load_off;
  std::uint64_t off = (notes_off + notes.size() + kPage - 1) / kPage * kPage;
  for (const auto& r : map) {
    load_off.push_back(off);
    off += (r.size + kPage - 1) / kPage * kPage;
  }

  auto elf = open_elf(fd, ELF_C_WRITE, "core file");
  if (!elf) return elf.error();
  Elf* e = elf->get();
  const auto elf_error = [](const char* what) { return make_error(EIO, "libelf: {}: {}", what, elf_errmsg(-1)); };
  if (!gelf_newehdr(e, ELFCLASS64)) return elf_error("gelf_newehdr");
  if (!gelf_newphdr(e, nph)) return elf_error("gelf_newphdr");
  GElf_Ehdr eh{};
  if (!gelf_getehdr(e, &eh)) return elf_error("gelf_getehdr");
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_OSABI] = ELFOSABI_NONE;  // as Linux writes cores
  eh.e_type = ET_CORE;
  eh.e_machine = EM_AARCH64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_shoff = 0;
  if (!gelf_update_ehdr(e, &eh)) return elf_error("gelf_update_ehdr");
  elf_flagelf(e, ELF_C_SET, ELF_F_LAYOUT);
  GElf_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = notes_off;
  note.p_filesz = notes.size();
  note.p_align = 4;
  if (!gelf_update_phdr(e, 0, &note)) return elf_error("gelf_update_phdr");
  for (std::size_t i = 0; i < map.size(); ++i) {
    GElf_Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_W | PF_X;
    load.p_offset = load_off[i];
    load.p_vaddr = load.p_paddr = map[i].gpa;
    load.p_filesz = load.p_memsz = map[i].size;
    load.p_align = kPage;
    if (!gelf_update_phdr(e, static_cast<int>(i + 1), &load)) return elf_error("gelf_update_phdr");
  }
  if (elf_update(e, ELF_C_WRITE) < 0) return elf_error("elf_update");
  elf.value().reset();

  if (auto s = pwrite_all(fd, notes, notes_off); !s) return s;
  const std::uint64_t total = total_size(map);
  std::uint64_t done = 0;
  for (std::size_t i = 0; i < map.size(); ++i) {
    auto s = copy_guest_memory(backend, map[i], [&](std::uint64_t gpa, std::span<const std::byte> bytes) {
      if (auto w = pwrite_all(fd, bytes, load_off[i] + (gpa - map[i].gpa)); !w) return w;
      done += bytes.size();
      if (options.progress) options.progress(done, total);
      return Status{};
    });
    if (!s) return s;
  }
  // Pages are padded: make the last one's tail exist in the file.
  if (!map.empty() && ::ftruncate(fd, static_cast<off_t>(off)) != 0)
    return make_error(errno, "sizing the core file: {}", std::strerror(errno));
  return {};
}

}  // namespace svedbg::introspect
