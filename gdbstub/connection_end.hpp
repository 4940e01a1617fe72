// gdbstub: how a served client connection ended, as the daemon logs it.
//
// Contract: the Server (transport.cpp) tells why it cut a connection (Cut:
// a client that stopped reading its replies, sent no packet in time, or sat
// idle with the guest stopped) and whether the client had sent a packet and
// ended the session itself (`D`, `k`). log_connection_end() writes that to
// `log`, each line with its rate-limit kind (LogLimiter): a "cut" line
// naming the limit, then one "drop" line: closed without a packet (the
// guest was never stopped), dropped without `D` (only then is `detach`
// called, after the "cut" line: it lets the guest go and says how, e.g.
// describe(Detached)), or finished. No I/O besides the two callbacks.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "gdbstub/target.hpp"
#include "gdbstub/transport.hpp"

namespace svedbg::gdbstub {

// Why a connection ended, when the client did not end it itself.
enum class Cut { None, Stalled, Overflow, Handshake, Idle };

// The end of the log line for a client that hung up without `D`.
const char* describe(Detached d);

struct ConnectionEnd {
  Cut cut = Cut::None;
  bool seen_packet = false;       // the client sent a valid packet (the guest was stopped)
  bool closed_by_client = false;  // it ended the session itself (D, k)
};

// A log line and its kind ("cut" or "drop").
using EndLog = std::function<void(std::string_view kind, const std::string& line)>;

// `peer`: the client as logged ("127.0.0.1:4711", "unix").
void log_connection_end(const ConnectionEnd& end, const std::string& peer, const ServerOptions& limits,
                        const std::function<std::string()>& detach, const EndLog& log);

}  // namespace svedbg::gdbstub
