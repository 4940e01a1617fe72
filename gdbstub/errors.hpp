// Error replies, encoded in one place.
//
// Contract: every `Exx` the stub sends is built here. `xx` is an errno value
// (two lowercase hex digits, clamped to 0xff), which is what gdbserver does
// and what gdb prints; the human message stays in the daemon's log and, for
// monitor commands, in the command output. GDB's docs: "E NN: an error
// occurred; NN is an error number" (Standard Replies).
#pragma once

#include <cerrno>
#include <string>

#include "common/result.hpp"

namespace svedbg::gdbstub {

// errno values used by the protocol layer itself.
enum class ProtocolError : int {
  Malformed = EINVAL,    // packet parsed but arguments are wrong
  Overlong = E2BIG,      // packet exceeded PacketSize
  NoSuchThread = ESRCH,  // unknown thread id
  BadRegister = ENOENT,  // register number outside the description
  MemoryFault = EFAULT,  // nothing readable/writable at the address
  NotStopped = EBUSY,    // request needs a stopped target
};

std::string error_reply(int errno_code);
// "E.text" for replies gdb prints as text: a refused resume (`c`, `s`,
// `vCont`) is answered where gdb waits for a stop reply, and gdb 13 shows
// "Remote failure reply: E.text" there (remote.c, remote_target::wait).
std::string error_reply_text(const Error& e);
inline std::string error_reply(ProtocolError e) { return error_reply(static_cast<int>(e)); }
inline std::string error_reply(const Error& e) { return error_reply(e.code); }

}  // namespace svedbg::gdbstub
