// Socket activation: the listening socket a service manager passed to us.
//
// Contract: follows the sd_listen_fds(3) convention (systemd.socket(5),
// systemd-socket-activate(1)) without linking libsystemd. A service manager
// that starts a daemon for a socket it already listens on passes the socket
// as fd 3 (SD_LISTEN_FDS_START) and sets LISTEN_PID to the daemon's pid and
// LISTEN_FDS to the number of fds passed; variables naming another pid were
// meant for some other process and are ignored. svedbg serves one socket, so
// LISTEN_FDS must be 1. parse_listen_fds() is the pure rule;
// take_listen_fd() applies it to this process: it unsets LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES (so no child inherits them, as
// sd_listen_fds(unset_environment=1) does) and marks the fd close-on-exec.
// The fd is then handed to gdbstub::Server::adopt().
#pragma once

#include <sys/types.h>

#include <optional>

#include "common/result.hpp"

namespace svedbg::gdbstub {

inline constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

// The inherited listening fd for process `self` from the variables' values
// (nullptr: unset). nullopt: nothing was passed to `self`; an error when
// the variables are malformed or pass other than one fd.
Result<std::optional<int>> parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self);

// parse_listen_fds() on this process's environment; unsets the variables
// and sets FD_CLOEXEC on the fd it returns.
Result<std::optional<int>> take_listen_fd();

}  // namespace svedbg::gdbstub
