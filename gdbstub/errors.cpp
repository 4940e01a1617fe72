#include "gdbstub/errors.hpp"

#include <fmt/format.h>

namespace svedbg::gdbstub {

std::string error_reply(int errno_code) {
  if (errno_code <= 0) errno_code = EIO;
  if (errno_code > 0xff) errno_code = 0xff;
  return fmt::format("E{:02x}", errno_code);
}

}  // namespace svedbg::gdbstub
