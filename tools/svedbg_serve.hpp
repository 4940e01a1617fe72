// `svedbg serve`: what the single-guest daemon (svedbg_serve.cpp) and
// `serve --multi` (svedbg_serve_multi.cpp) share.
//
// Contract: ServeArgs holds the options of `serve` besides the guest.
// server_access() turns --admin-group, --allow-remote-unauthenticated and
// --socket-mode into the Server's access policy and socket mode (false after
// printing why not: the caller exits 2); server_limits() sets the time
// limits and the signals that end the daemon cleanly. docs/multi.md.
#pragma once

#include <string>

#include "gdbstub/transport.hpp"
#include "tools/svedbg_cli.hpp"

namespace svedbg::cli {

// The options of `serve` besides the guest.
struct ServeArgs {
  std::string listen = "127.0.0.1:1234";
  bool listen_given = false;  // --listen on the command line (else an inherited socket wins)
  std::string tdesc_vl = "max";
  bool allow_sysreg_writes = false;
  bool read_only = false;
  double handshake_timeout = 10;  // seconds; 0: none
  double idle_timeout = 0;        // seconds; 0: none
  double write_stall_timeout = 10;
  // Access control and serve --multi (docs/multi.md).
  bool multi = false;
  bool allow_kill = false;
  std::string admin_group;
  bool allow_remote_unauthenticated = false;
  std::string socket_mode;  // octal; default 0600 (0666 with --multi)
};

// The access policy and socket mode into `limits`; false after printing why
// not. A --pid guest is owned by the VMM's uid, any other by the daemon's.
bool server_access(const GuestArgs& g, const ServeArgs& a, gdbstub::ServerOptions& limits);
// The time limits and stop signals into `limits`.
void server_limits(const ServeArgs& a, gdbstub::ServerOptions& limits);

// `serve --multi` (svedbg_serve_multi.cpp).
int serve_multi(const GuestArgs& g, const ServeArgs& a);

}  // namespace svedbg::cli
