// Socket activation (see socket_activation.hpp; sd_listen_fds(3)).
#include "gdbstub/socket_activation.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace svedbg::gdbstub {

namespace {

// A positive decimal number, as the service manager writes it (no sign, no spaces).
std::optional<long> positive_number(std::string_view text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  long v = 0;
  for (char c : text) v = v * 10 + (c - '0');
  if (v <= 0) return std::nullopt;
  return v;
}

}  // namespace

Result<std::optional<int>> parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self) {
  if (listen_pid == nullptr || listen_fds == nullptr) return std::optional<int>{};
  auto pid = positive_number(listen_pid);
  if (!pid) return make_error(EINVAL, "socket activation: LISTEN_PID='{}' is not a pid", listen_pid);
  // The variables were set for another process (e.g. inherited by a child
  // of the activated one): not ours to use.
  if (*pid != self) return std::optional<int>{};
  auto count = positive_number(listen_fds);
  if (!count) return make_error(EINVAL, "socket activation: LISTEN_FDS='{}' is not a count of fds", listen_fds);
  if (*count != 1)
    return make_error(EINVAL, "socket activation: {} sockets passed (LISTEN_FDS), svedbg serves exactly one", *count);
  return std::optional<int>{kListenFdsStart};
}

Result<std::optional<int>> take_listen_fd() {
  auto fd = parse_listen_fds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!fd || !*fd) return fd;
  int flags = ::fcntl(**fd, F_GETFD);
  if (flags < 0 || ::fcntl(**fd, F_SETFD, flags | FD_CLOEXEC) < 0)
    return make_error(errno, "socket activation: fd {} (LISTEN_FDS): {}", **fd, std::strerror(errno));
  return fd;
}

}  // namespace svedbg::gdbstub
