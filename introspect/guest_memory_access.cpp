// GuestTarget (guest_target.hpp): guest memory at virtual addresses,
// translated by the vCPU's own page tables (page_walk.hpp); a write is
// translated and checked whole before any byte changes.
#include "introspect/guest_target.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "introspect/guest_target_detail.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

Result<TranslationRegs> GuestTarget::translation_regs(unsigned vcpu) {
  if (auto stopped = check_stopped(vcpu); !stopped) return stopped.error();
  return read_translation_regs(cache_, vcpu);
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
  if (auto st = settle(); !st) return st.error();
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
  if (auto st = settle(); !st) return st;
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

}  // namespace svedbg::introspect
