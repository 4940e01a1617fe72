// gdbstub::Server: the Asio transport (TCP or Unix socket) for Sessions.
//
// Contract: listens on "HOST:PORT" (TCP, default 127.0.0.1:1234) or
// "unix:PATH" (a stream socket created mode unix_mode, 0600 by default; a stale socket file left by
// a dead daemon is replaced, a live one is an error). One gdb client at a
// time, served by one C++20 coroutine: a second client gets an error packet
// saying the stub is busy and is disconnected. When a client detaches, kills
// or drops, the target is detached (the guest runs on as before gdb came) and
// the server waits for the next client; the log says whether a dropped
// client's guest ran on or had exited (its last stop was an exit). This is
// the only file that includes Asio; everything above it is the pure Session.
// Beside it, without Asio: the listen address (listen_spec.hpp), the check
// of an inherited socket (listening_socket.hpp), who may be served
// (peer_policy.hpp) and the log lines of a connection's end
// (connection_end.hpp).
//
// Hostile or broken clients (ServerOptions):
//  * The guest is stopped at a client's first valid packet, not at its
//    connection: a connection that sends none (a probe of a unix socket
//    path, a port scan) leaves the guest alone and is logged as such, and
//    one that sends none within handshake_timeout is dropped.
//  * A client that sends nothing for idle_timeout while the guest is stopped
//    is dropped and the guest resumed as on detach (0: never). TCP
//    keep-alive (probes after 60 s of silence, every 10 s, 6 of them)
//    notices a peer that vanished.
//  * Output: no further request is read while a reply is pending (the
//    session's backlog, kOutputBudget), so at most kMaxPendingOutput is ever
//    queued; a client that consumes none of its pending output for
//    write_stall_timeout is disconnected. A client that half-closes its
//    side gets every reply it asked for before the connection ends.
//  * A new client is not refused while the current one is already at EOF:
//    it is served as soon as that one's drop was handled.
//  * accept() failing for lack of descriptors (EMFILE, ENFILE) or memory is
//    logged once and retried every 100 ms; the daemon keeps listening.
//  * Log lines are rate limited per kind (LogLimiter).
//
// Who may connect (peer.hpp, peer_policy.hpp): each connection's peer is
// identified when it is accepted (SO_PEERCRED on a unix socket, the peer
// socket's owner in /proc/net/tcp{,6} on loopback TCP). A single-guest
// Server refuses a peer that may not debug its guest (owned by
// ServerOptions::guest_owner, default the daemon's uid): the log says why,
// and the client's packets get "E.svedbg: refused: <reason>" for a few
// seconds before the connection is closed (gdb 13 prints it as "Remote
// failure reply").
//
// Multi mode (the ProcessHost constructor, `serve --multi`): any number of
// clients at once, each with its own Session over its own ProcessSlot
// (extended remote: attach, detach and attach again; the slots share one
// HolderTable so a VMM is attached by one client at a time), all on the one
// io_context. A peer without identity is refused unless the policy allows
// it. A client that drops has its VMM detached (it runs on); when the
// daemon stops, every attached VMM is detached.
#pragma once

#include <csignal>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "gdbstub/listen_spec.hpp"
#include "gdbstub/peer_policy.hpp"
#include "gdbstub/process_host.hpp"
#include "gdbstub/process_slot.hpp"
#include "gdbstub/session.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

struct ServerOptions {
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  // 0: none
  std::chrono::milliseconds idle_timeout{0};                              // 0: none
  std::chrono::milliseconds write_stall_timeout{std::chrono::seconds(10)};
  // Signals that stop run() cleanly (the unix socket file is removed).
  std::vector<int> stop_signals{SIGINT, SIGTERM};
  // Access control (peer_policy.hpp); daemon_uid -1: this process's euid.
  AccessPolicy access;
  // The mode of a unix socket file (0600: only the daemon's user may
  // connect; serve --multi makes it 0666 and decides per peer).
  unsigned unix_mode = 0600;
  // Single-guest mode: the uid owning the guest (the VMM's uid for --pid);
  // nullopt: the daemon's uid.
  std::optional<uid_t> guest_owner;
};

class Server {
 public:
  Server(Target& target, SessionOptions options = {}, ServerOptions server_options = {});
  // `serve --multi`: each client attaches processes of `host` (extended
  // remote). multi.policy is replaced by server_options.access.
  Server(ProcessHost& host, MultiOptions multi, SessionOptions options = {}, ServerOptions server_options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; the bound address (with the real port when 0 was
  // asked) is in bound().
  Status listen(const ListenSpec& spec);
  // Serves on a socket that is already bound and listening, e.g. the one a
  // service manager passed (socket activation, gdbstub/socket_activation.hpp):
  // a unix or TCP stream socket, told apart with getsockname(). Takes fd
  // (closed on error too). A unix socket's file belongs to whoever made it
  // and is not removed when the server ends. Instead of listen().
  Status adopt(int fd);
  const ListenSpec& bound() const;
  // Serves clients until stop() (thread-safe) or a signal handler calls it.
  void run();
  void stop();
  // Log sink for connection events (default: stderr).
  void set_logger(std::function<void(const std::string&)> log);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svedbg::gdbstub
