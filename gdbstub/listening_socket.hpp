// gdbstub: checking a socket the daemon did not create before serving on it.
//
// Contract: listening_socket_family() takes a descriptor passed in (socket
// activation: Server::adopt) and returns its address family, AF_UNIX,
// AF_INET or AF_INET6, if it is a stream socket that is already listening
// (getsockname(2), SO_TYPE, SO_ACCEPTCONN in socket(7)); otherwise an error
// naming the fd and what is wrong. The fd is neither closed nor changed.
#pragma once

#include "common/result.hpp"

namespace svedbg::gdbstub {

Result<int> listening_socket_family(int fd);

}  // namespace svedbg::gdbstub
