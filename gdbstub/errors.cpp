#include "gdbstub/errors.hpp"

#include <fmt/format.h>

namespace svedbg::gdbstub {

std::string error_reply(int errno_code) {
  if (errno_code <= 0) errno_code = EIO;
  if (errno_code > 0xff) errno_code = 0xff;
  return fmt::format("E{:02x}", errno_code);
}

std::string error_reply_text(const Error& e) {
  if (e.message.empty()) return error_reply(e.code);
  std::string text = "E." + e.message;
  // Keep it on one line; the encoder escapes the protocol's special bytes.
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace svedbg::gdbstub
