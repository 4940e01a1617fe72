// An inherited listening socket (listening_socket.hpp).
#include "gdbstub/listening_socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace svedbg::gdbstub {

Result<int> listening_socket_family(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int type = 0, listening = 0;
  socklen_t ilen = sizeof type;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) != 0)
    return make_error(errno, "inherited fd {} is not a socket: {}", fd, std::strerror(errno));
  ilen = sizeof listening;
  if (type != SOCK_STREAM || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 || !listening)
    return make_error(EINVAL, "inherited fd {} is not a listening stream socket (ListenStream=)", fd);
  if (addr.ss_family != AF_UNIX && addr.ss_family != AF_INET && addr.ss_family != AF_INET6)
    return make_error(EAFNOSUPPORT, "inherited fd {}: address family {} is neither unix nor TCP", fd,
                      static_cast<int>(addr.ss_family));
  return static_cast<int>(addr.ss_family);
}

}  // namespace svedbg::gdbstub
