// How a client connection ended, in the log (connection_end.hpp).
#include "gdbstub/connection_end.hpp"

#include <fmt/format.h>

#include "gdbstub/session.hpp"

namespace svedbg::gdbstub {

const char* describe(Detached d) {
  switch (d) {
    case Detached::Resumed: return "guest resumed";
    case Detached::GuestGone: return "the guest had exited";
    case Detached::NeverRuns: return "nothing to resume (the target never runs)";
  }
  return "guest resumed";
}

namespace {

// Why the daemon cut it; empty for Cut::None.
std::string cut_text(Cut cut, const std::string& peer, const ServerOptions& limits) {
  switch (cut) {
    case Cut::None: break;
    case Cut::Stalled:
      return fmt::format("client {} stopped reading replies (no output consumed for {} ms): disconnected", peer,
                         limits.write_stall_timeout.count());
    case Cut::Overflow:
      return fmt::format("client {} stopped reading replies (over {} bytes pending): disconnected", peer,
                         kMaxPendingOutput);
    case Cut::Handshake:
      return fmt::format("connection from {} sent no packet in {} ms: disconnected", peer,
                         limits.handshake_timeout.count());
    case Cut::Idle:
      return fmt::format("client {} sent nothing for {} ms with the guest stopped: disconnected", peer,
                         limits.idle_timeout.count());
  }
  return {};
}

}  // namespace

void log_connection_end(const ConnectionEnd& end, const std::string& peer, const ServerOptions& limits,
                        const std::function<std::string()>& detach, const EndLog& log) {
  if (auto text = cut_text(end.cut, peer, limits); !text.empty()) log("cut", text);
  if (!end.seen_packet) {
    // Nothing was asked, so nothing was stopped: a probe or a scan.
    log("drop", fmt::format("connection from {} closed without a packet; the guest was not stopped", peer));
  } else if (!end.closed_by_client) {
    // Dropped without `D`: leave the guest as it was before gdb came. gdb
    // hangs up this way after an X stop reply too (`target remote` forgets
    // a process that exited), and then there is nothing left to resume.
    log("drop", fmt::format("client {} dropped; {}", peer, detach()));
  } else {
    log("drop", fmt::format("client {} finished", peer));
  }
}

}  // namespace svedbg::gdbstub
