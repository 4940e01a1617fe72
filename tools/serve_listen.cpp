// `svedbg serve --listen` and socket activation (see serve_listen.hpp).
#include "tools/serve_listen.hpp"

#include <cstdio>

#include "gdbstub/socket_activation.hpp"

namespace svedbg::cli {

Result<Listener> Listener::choose(const std::string& listen, bool given, bool warn_not_loopback) {
  auto fd = gdbstub::take_listen_fd();
  if (!fd) return fd.error();
  Listener l;
  const bool systemd = listen == kListenSystemd;
  if (systemd || (!given && fd->has_value())) {
    if (!fd->has_value())
      return make_error(EBADF,
                        "--listen {}: no socket was passed to this process (LISTEN_PID/LISTEN_FDS unset or for "
                        "another pid); start it from svedbg.socket or systemd-socket-activate",
                        kListenSystemd);
    l.inherited_.reset(**fd);
    return l;
  }
  auto spec = gdbstub::parse_listen_spec(listen);
  if (!spec) return spec.error();
  if (warn_not_loopback && !spec->is_loopback())
    std::fprintf(stderr,
                 "svedbg: warning: listening on %s, which is not a loopback address: anyone who can reach it "
                 "can read and change the guest\n",
                 spec->to_string().c_str());
  l.spec_ = *spec;
  return l;
}

Status Listener::open(gdbstub::Server& server) {
  if (inherited_.valid()) return server.adopt(inherited_.release());
  return server.listen(*spec_);
}

}  // namespace svedbg::cli
