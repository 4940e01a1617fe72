// introspect::ElfHandle: RAII owner of a libelf descriptor (Elf*).
//
// Contract: open_elf() initialises libelf once (elf_version) and wraps
// elf_begin(fd, cmd); the handle calls elf_end() exactly once when it goes
// away. The fd stays owned by the caller and must outlive the handle.
// Errors carry libelf's own message (elf_errmsg) and name `what` (the file).
#pragma once

#include <libelf.h>

#include <memory>
#include <string>

#include "common/result.hpp"

namespace svedbg::introspect {

struct ElfEnd {
  void operator()(Elf* e) const { elf_end(e); }
};
using ElfHandle = std::unique_ptr<Elf, ElfEnd>;

inline Result<ElfHandle> open_elf(int fd, Elf_Cmd cmd, const std::string& what) {
  if (elf_version(EV_CURRENT) == EV_NONE) return make_error(EIO, "libelf is out of date: {}", elf_errmsg(-1));
  Elf* e = elf_begin(fd, cmd, nullptr);
  if (!e) return make_error(EIO, "{}: {}", what, elf_errmsg(-1));
  return ElfHandle(e);
}

}  // namespace svedbg::introspect
