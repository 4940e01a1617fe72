#include "introspect/core/core_reader.hpp"

#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "introspect/core/core_layout.hpp"
#include "introspect/core/elf_handle.hpp"
#include "common/le_bytes.hpp"

namespace svedbg::introspect {
namespace {

namespace cl = core_layout;
namespace layout = kvm::layout;
using Bytes = std::span<const std::byte>;

// The notes of one thread, as found (decoded once the thread is complete).
struct RawThread {
  Bytes prstatus;
  std::optional<Bytes> fpregset, sve, svedbg;
};

std::string type_name(unsigned t) {
  switch (t) {
    case ET_NONE: return "ET_NONE";
    case ET_REL: return "ET_REL, an object file";
    case ET_EXEC: return "ET_EXEC, an executable";
    case ET_DYN: return "ET_DYN, a shared object or PIE";
    default: return fmt::format("type {:#x}", t);
  }
}

std::string machine_name(unsigned m) {
  switch (m) {
    case EM_X86_64: return "x86-64";
    case EM_386: return "i386";
    case EM_ARM: return "32-bit ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "s390";
    default: return fmt::format("machine {}", m);
  }
}

struct Decoder {
  const std::string& path;
  std::string thread_name(std::size_t i, const CoreVcpu& v) const {
    return fmt::format("{}: thread {} (vCPU {}, LWP {})", path, i + 1, v.vmm_index, v.pid);
  }

  void put_fpsimd(CoreVcpu& v, Bytes fp) const {
    std::copy_n(fp.begin(), 32 * 16, v.core.begin() + layout::kVregs);
    std::copy_n(fp.begin() + cl::kFpsimdFpsr, 4, v.core.begin() + layout::kFpsr);
    std::copy_n(fp.begin() + cl::kFpsimdFpcr, 4, v.core.begin() + layout::kFpcr);
    for (unsigned n = 0; n < 32; ++n) std::copy_n(fp.begin() + 16 * n, 16, v.z[n].begin());
  }

  // svedbg's own note: the VMM's vCPU index and the vector lengths
  // (core_layout.hpp). Sets `note_vq`, the payload VL of NT_ARM_SVE, and
  // renames `who` with the VMM's index.
  Status put_svedbg(CoreVcpu& v, std::size_t i, const RawThread& t, std::string& who, unsigned& note_vq) const {
    const Bytes d = *t.svedbg;
    v.svedbg_note = true;
    v.vmm_index = load_le<std::uint32_t>(d, 4);
    who = thread_name(i, v);
    v.sve = load_le<std::uint32_t>(d, 8) & cl::kSvedbgFlagSve;
    for (unsigned w = 0; w < 8; ++w) v.vls.words[w] = load_le<std::uint64_t>(d, 16 + 8 * w);
    v.effective_vq = load_le<std::uint32_t>(d, 12);
    note_vq = load_le<std::uint32_t>(d, 80);
    const std::uint32_t count = load_le<std::uint32_t>(d, 84);
    for (std::uint32_t k = 0; k < count; ++k) {
      const std::size_t at = cl::kSvedbgFixedSize + cl::kSvedbgPairSize * k;
      v.extra.emplace_back(load_le<std::uint64_t>(d, at), load_le<std::uint64_t>(d, at + 8));
    }
    if (!v.sve) {
      v.vls = {};
      v.effective_vq = 1;
      return {};
    }
    if (v.vls.empty() || v.vls.max() > kvm::kZregBytes / 16)
      return make_error(EINVAL, "{}: the SVEDBG note's vector lengths ({}) are not 128..2048 bits", who,
                        v.vls.to_string());
    if (!v.vls.has(v.effective_vq))
      return make_error(EINVAL, "{}: the SVEDBG note's effective VL {} bits is not among its enabled VLs ({})", who,
                        v.effective_vq * 128, v.vls.to_string());
    if (!t.sve) return make_error(EINVAL, "{}: the SVEDBG note says SVE, but there is no NT_ARM_SVE note", who);
    return {};
  }

  // The SVE_PT_REGS_SVE payload of NT_ARM_SVE at `layout_vq` (Linux
  // arch/arm64/include/uapi/asm/ptrace.h, SVE_PT_SVE_*).
  //
  // The kernel's layout (SVE_PT_SIZE): fpsr at the next 16-byte boundary
  // after FFR, the whole rounded up to 16 bytes. gdb 13's gcore writes its
  // own regset instead: fpsr/fpcr right after FFR, no padding
  // (aarch64-linux-tdep.c builds the note from the register cache), so a gdb
  // core is shorter than SVE_PT_SIZE. Tell them apart by size; where FFR
  // ends 16-byte aligned the two differ only in the padding.
  Status put_sve_payload(CoreVcpu& v, Bytes d, std::uint32_t size, unsigned layout_vq, const std::string& who) const {
    const std::size_t need = cl::sve_pt_size_sve(layout_vq);
    const std::size_t ffr_end = cl::sve_ffr_offset(layout_vq) + cl::sve_preg_size(layout_vq);
    const bool gdb_layout = size < need && size >= ffr_end + 8 && size < cl::sve_fpcr_offset(layout_vq) + 4;
    const std::size_t fpsr_at = gdb_layout ? ffr_end : cl::sve_fpsr_offset(layout_vq);
    if (size < need && !gdb_layout && size < cl::sve_fpcr_offset(layout_vq) + 4)
      return make_error(EINVAL, "{}: NT_ARM_SVE payload has {} bytes, SVE state at VL {} bits needs {}", who, size,
                        layout_vq * 128, need);
    const std::size_t zn = cl::sve_zreg_size(layout_vq), pn = cl::sve_preg_size(layout_vq);
    for (unsigned n = 0; n < 32; ++n) std::copy_n(d.begin() + cl::sve_zreg_offset(layout_vq, n), zn, v.z[n].begin());
    for (unsigned n = 0; n < 16; ++n) std::copy_n(d.begin() + cl::sve_preg_offset(layout_vq, n), pn, v.p[n].begin());
    std::copy_n(d.begin() + cl::sve_ffr_offset(layout_vq), pn, v.ffr.begin());
    std::copy_n(d.begin() + fpsr_at, 4, v.core.begin() + layout::kFpsr);
    std::copy_n(d.begin() + fpsr_at + 4, 4, v.core.begin() + layout::kFpcr);
    for (unsigned n = 0; n < 32; ++n) std::copy_n(v.z[n].begin(), 16, v.core.begin() + layout::kVregs + 16 * n);
    return {};
  }

  // NT_ARM_SVE: the user_sve_header, then an SVE or an FPSIMD payload
  // (SVE_PT_REGS_MASK of its flags). Without an SVEDBG note the header
  // gives the vector lengths.
  Status put_sve(CoreVcpu& v, Bytes d, unsigned note_vq, const std::string& who) const {
    const unsigned vl = load_le<std::uint16_t>(d, cl::kSveHdrVl);
    const unsigned max_vl = load_le<std::uint16_t>(d, cl::kSveHdrMaxVl);
    const unsigned flags = load_le<std::uint16_t>(d, cl::kSveHdrFlags);
    const std::uint32_t size = load_le<std::uint32_t>(d, cl::kSveHdrSize);
    if (vl == 0 || vl % cl::kSveVqBytes != 0)
      return make_error(EINVAL, "{}: NT_ARM_SVE header has an invalid vector length of {} bytes", who, vl);
    if (vl > kvm::kZregBytes)
      return make_error(ENOTSUP, "{}: NT_ARM_SVE vector length {} bits exceeds the architectural 2048", who, vl * 8);
    if (size > d.size())
      return make_error(EINVAL, "{}: NT_ARM_SVE header claims {} bytes, the note has {}", who, size, d.size());
    const unsigned vq = vl / cl::kSveVqBytes;
    const unsigned layout_vq = (v.svedbg_note && note_vq) ? note_vq : vq;
    if (layout_vq > kvm::kZregBytes / 16)
      return make_error(EINVAL, "{}: the SVEDBG note's payload VL {} bits exceeds 2048", who, layout_vq * 128);

    if ((flags & cl::kSvePtRegsMask) == cl::kSvePtRegsSve) {
      if (auto s = put_sve_payload(v, d, size, layout_vq, who); !s) return s;
    } else {
      if (size < cl::kSvePtSizeFpsimd)
        return make_error(EINVAL, "{}: NT_ARM_SVE FPSIMD payload has {} bytes, needs {}", who, size,
                          cl::kSvePtSizeFpsimd);
      v.z = {};
      put_fpsimd(v, d.subspan(cl::kSvePtRegsOffset, cl::kFpsimdSize));
    }
    if (!v.svedbg_note) {
      // A process core: the thread's current VL is the header's; any length
      // up to its maximum may have been enabled.
      v.sve = true;
      v.effective_vq = vq;
      v.vls = kvm::VqSet::range(1, std::min<unsigned>(std::max(vl, max_vl) / cl::kSveVqBytes, kvm::kZregBytes / 16));
    }
    return {};
  }

  Result<CoreVcpu> decode(std::size_t i, const RawThread& t) const {
    CoreVcpu v;
    v.pid = load_le<std::uint32_t>(t.prstatus, cl::kPrPid);
    v.vmm_index = static_cast<unsigned>(i);
    std::string who = thread_name(i, v);  // named again once the SVEDBG note gives the VMM's index
    std::copy_n(t.prstatus.begin() + cl::kPrReg, cl::kUserPtRegsSize, v.core.begin() + layout::kRegs);

    if (!t.fpregset && !t.sve)
      return make_error(EINVAL, "{}: no NT_FPREGSET or NT_ARM_SVE note, so its FP/SIMD registers are missing", who);
    if (t.fpregset) put_fpsimd(v, *t.fpregset);
    unsigned note_vq = 0;
    if (t.svedbg) {
      if (auto s = put_svedbg(v, i, t, who, note_vq); !s) return s.error();
    }
    if (t.sve) {
      if (auto s = put_sve(v, *t.sve, note_vq, who); !s) return s.error();
    }
    return v;
  }
};

Status check_size(const std::string& path, std::size_t thread, std::string_view note, std::size_t got,
                  std::size_t want) {
  if (got == want) return {};
  return make_error(EINVAL, "{}: thread {}: {} note has {} bytes, its layout has {}", path, thread, note, got, want);
}

// The file itself: open, a regular file, not empty, room for an ELF64
// header. Returns its size.
Result<std::uint64_t> open_core(const std::string& path, CoreImage& img) {
  img.path = path;
  img.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!img.fd.valid()) return make_error(errno, "cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(img.fd.get(), &st) != 0) return make_error(errno, "{}: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(EINVAL, "{} is not a regular file", path);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size == 0) return make_error(EINVAL, "{} is empty, not a core file", path);
  if (file_size < sizeof(Elf64_Ehdr))
    return make_error(EINVAL, "{} is truncated or not ELF: {} bytes, an ELF64 header alone has {}", path, file_size,
                      sizeof(Elf64_Ehdr));
  return file_size;
}

// The ELF header of an arm64 Linux core (System V gABI "ELF Header";
// e_ident, e_type ET_CORE, e_machine EM_AARCH64).
Status check_header(Elf* e, const std::string& path) {
  if (elf_kind(e) != ELF_K_ELF) return make_error(EINVAL, "{} is not an ELF file", path);
  GElf_Ehdr eh{};
  if (!gelf_getehdr(e, &eh)) return make_error(EINVAL, "{}: bad ELF header: {}", path, elf_errmsg(-1));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    return make_error(EINVAL, "{} is a 32-bit ELF file; arm64 core files are ELF64", path);
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return make_error(ENOTSUP, "{} is a big-endian ELF file; only little-endian arm64 cores are supported", path);
  if (eh.e_type != ET_CORE) return make_error(EINVAL, "{} is not a core file (ELF {})", path, type_name(eh.e_type));
  if (eh.e_machine != EM_AARCH64)
    return make_error(EINVAL, "{} is a core file for {}, not AArch64", path, machine_name(eh.e_machine));
  return {};
}

// A PT_LOAD with file bytes: the bytes the file holds, with a warning when
// a truncated file cuts the segment short.
void add_segment(const GElf_Phdr& ph, std::uint64_t file_size, CoreImage& img) {
  if (ph.p_filesz == 0) return;
  CoreSegment seg{ph.p_vaddr, ph.p_filesz, ph.p_offset};
  if (ph.p_offset >= file_size || ph.p_filesz > file_size - ph.p_offset) {
    seg.size = ph.p_offset >= file_size ? 0 : file_size - ph.p_offset;
    img.warnings.push_back(fmt::format("{} is truncated: the segment at {:#x} has {} of its {} bytes", img.path,
                                       ph.p_vaddr, seg.size, ph.p_filesz));
  }
  if (seg.size) img.segments.push_back(seg);
}

// One thread note after its NT_PRSTATUS, size-checked: NT_FPREGSET and
// NT_ARM_SVE (owner "CORE" / "LINUX", Linux include/uapi/linux/elf.h) or
// svedbg's "SVEDBG" note (core_layout.hpp). Other notes are process-wide
// or unknown and skipped.
Status add_thread_note(const std::string& path, std::string_view name, std::uint32_t type, Bytes desc,
                       std::vector<RawThread>& threads) {
  const std::size_t tn = threads.size();  // thread number of the current thread (1-based)
  const bool fp = name == cl::kCoreName && type == cl::kNtFpregset;
  const bool sve = name == cl::kLinuxName && type == cl::kNtArmSve;
  const bool mine = name == cl::kSvedbgName && type == cl::kSvedbgVcpuNote;
  if (!fp && !sve && !mine) return {};
  if (threads.empty())
    return make_error(EINVAL, "{}: a thread note (type {:#x}, \"{}\") comes before any NT_PRSTATUS", path, type, name);
  RawThread& t = threads.back();
  if (fp) {
    if (auto s = check_size(path, tn, "NT_FPREGSET", desc.size(), cl::kFpsimdSize); !s) return s;
    t.fpregset = desc;
  } else if (sve) {
    if (desc.size() < cl::kSveHeaderSize)
      return make_error(EINVAL, "{}: thread {}: NT_ARM_SVE note has {} bytes, less than its {}-byte header", path, tn,
                        desc.size(), cl::kSveHeaderSize);
    t.sve = desc;
  } else {
    if (desc.size() < cl::kSvedbgFixedSize)
      return make_error(EINVAL, "{}: thread {}: SVEDBG note has {} bytes, less than its {}-byte header", path, tn,
                        desc.size(), cl::kSvedbgFixedSize);
    const auto version = load_le<std::uint32_t>(desc, 0);
    if (version != cl::kSvedbgNoteVersion)
      return make_error(ENOTSUP, "{}: thread {}: SVEDBG note version {} (this svedbg reads version {})", path, tn,
                        version, cl::kSvedbgNoteVersion);
    const std::size_t count = load_le<std::uint32_t>(desc, 84);
    if (auto s = check_size(path, tn, "SVEDBG", desc.size(), cl::kSvedbgFixedSize + cl::kSvedbgPairSize * count); !s)
      return s;
    t.svedbg = desc;
  }
  return {};
}

// A PT_NOTE segment: each NT_PRSTATUS starts a thread, the thread notes
// after it are that thread's.
Status read_notes(Elf* e, const GElf_Phdr& ph, std::uint64_t file_size, const std::string& path,
                  std::vector<RawThread>& threads) {
  if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset)
    return make_error(EINVAL, "{} is truncated: its notes end at byte {}, the file has {}", path,
                      ph.p_offset + ph.p_filesz, file_size);
  Elf_Data* data = elf_getdata_rawchunk(e, static_cast<int64_t>(ph.p_offset), ph.p_filesz, ELF_T_NHDR);
  if (!data) return make_error(EINVAL, "{}: cannot read the notes: {}", path, elf_errmsg(-1));
  const auto* base = static_cast<const std::byte*>(data->d_buf);
  std::size_t off = 0;
  while (off < data->d_size) {
    GElf_Nhdr nh{};
    std::size_t name_off = 0, desc_off = 0;
    const std::size_t next = gelf_getnote(data, off, &nh, &name_off, &desc_off);
    if (next == 0)
      return make_error(EINVAL, "{}: corrupt note at byte {} of the note segment at offset {:#x}", path, off,
                        ph.p_offset);
    off = next;
    std::string_view name(reinterpret_cast<const char*>(base + name_off), nh.n_namesz ? nh.n_namesz - 1 : 0);
    const Bytes desc(base + desc_off, nh.n_descsz);
    if (name == cl::kCoreName && nh.n_type == cl::kNtPrstatus) {
      if (auto s = check_size(path, threads.size() + 1, "NT_PRSTATUS", desc.size(), cl::kPrstatusSize); !s) return s;
      threads.push_back(RawThread{desc, {}, {}, {}});
      continue;
    }
    if (auto s = add_thread_note(path, name, nh.n_type, desc, threads); !s) return s;
  }
  return {};
}

}  // namespace

Result<CoreImage> read_core(const std::string& path) {
  CoreImage img;
  auto file_size = open_core(path, img);
  if (!file_size) return file_size.error();
  auto elf = open_elf(img.fd.get(), ELF_C_READ_MMAP, path);
  if (!elf) return elf.error();
  Elf* e = elf->get();
  if (auto s = check_header(e, path); !s) return s.error();
  std::size_t nph = 0;
  if (elf_getphdrnum(e, &nph) != 0) return make_error(EINVAL, "{}: bad program headers: {}", path, elf_errmsg(-1));

  std::vector<RawThread> threads;
  for (std::size_t i = 0; i < nph; ++i) {
    GElf_Phdr ph{};
    if (!gelf_getphdr(e, static_cast<int>(i), &ph))
      return make_error(EINVAL, "{}: program header {}: {}", path, i, elf_errmsg(-1));
    if (ph.p_type == PT_LOAD) add_segment(ph, *file_size, img);
    if (ph.p_type != PT_NOTE) continue;
    if (auto s = read_notes(e, ph, *file_size, path, threads); !s) return s.error();
  }
  if (threads.empty()) return make_error(EINVAL, "{}: no NT_PRSTATUS note, so no thread to show", path);

  Decoder dec{path};
  for (std::size_t i = 0; i < threads.size(); ++i) {
    auto v = dec.decode(i, threads[i]);
    if (!v) return v.error();
    img.vcpus.push_back(std::move(*v));
  }
  std::sort(img.segments.begin(), img.segments.end(),
            [](const CoreSegment& a, const CoreSegment& b) { return a.vaddr < b.vaddr; });
  return img;
}

}  // namespace svedbg::introspect
