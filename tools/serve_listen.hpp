// Where `svedbg serve` listens: an address given with --listen, or the
// listening socket a service manager passed (socket activation).
//
// Contract: `--listen systemd` serves the inherited socket (LISTEN_PID /
// LISTEN_FDS, gdbstub/socket_activation.hpp) and is an error without one.
// With no --listen at all an inherited socket is used when there is one, so
// a daemon started by svedbg.socket or systemd-socket-activate needs no flag;
// else the default address. An explicit address ignores an inherited socket
// (the variables are unset either way, so no child sees them). A TCP address
// that is not loopback is served with a warning on stderr. docs/install.md.
#pragma once

#include <optional>
#include <string>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "gdbstub/transport.hpp"

namespace svedbg::cli {

inline constexpr const char* kListenSystemd = "systemd";

class Listener {
 public:
  // `listen`: the --listen value; `given`: whether --listen was on the
  // command line; `warn_not_loopback`: print the warning above (a caller
  // with its own wording passes false).
  static Result<Listener> choose(const std::string& listen, bool given, bool warn_not_loopback = true);
  // listen() on the address or adopt() the inherited socket.
  Status open(gdbstub::Server& server);
  bool inherited() const { return inherited_.valid(); }
  // The address to listen on; nullopt for an inherited socket.
  const std::optional<gdbstub::ListenSpec>& spec() const { return spec_; }

 private:
  std::optional<gdbstub::ListenSpec> spec_;
  UniqueFd inherited_;
};

}  // namespace svedbg::cli
