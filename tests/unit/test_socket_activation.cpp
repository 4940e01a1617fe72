// Socket activation: the sd_listen_fds(3) rule (gdbstub/socket_activation.hpp)
// and gdbstub::Server::adopt() serving on an inherited listening socket.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "common/unique_fd.hpp"
#include "gdbstub/socket_activation.hpp"
#include "gdbstub/transport.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;
using gdbstub::parse_listen_fds;

namespace {

UniqueFd listening_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd.get(), 4) == 0);
  return fd;
}

UniqueFd tcp_socket(bool listening) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  if (listening) REQUIRE(::listen(fd.get(), 4) == 0);
  return fd;
}

unsigned short port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

struct Rig {
  introspect::SimBackend sim{introspect::SimConfig{}};
  std::unique_ptr<introspect::GuestTarget> target{std::move(*introspect::GuestTarget::create(sim, {}))};
  // No stop signals: the test runner keeps its own handlers.
  gdbstub::Server server{*target, {}, no_stop_signals()};
  static gdbstub::ServerOptions no_stop_signals() {
    gdbstub::ServerOptions o;
    o.stop_signals = {};
    return o;
  }
  Rig() {
    server.set_logger([](const std::string&) {});
  }
};

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
}

}  // namespace

TEST_CASE("socket activation: LISTEN_PID and LISTEN_FDS", "[activation]") {
  const pid_t self = 4242;
  SECTION("nothing passed") { CHECK_FALSE(parse_listen_fds(nullptr, nullptr, self)->has_value()); }
  SECTION("only one of the two variables: nothing passed") {
    CHECK_FALSE(parse_listen_fds("4242", nullptr, self)->has_value());
    CHECK_FALSE(parse_listen_fds(nullptr, "1", self)->has_value());
  }
  SECTION("one socket for this process is fd 3") {
    auto fd = parse_listen_fds("4242", "1", self);
    REQUIRE(fd);
    REQUIRE(fd->has_value());
    CHECK(**fd == 3);
  }
  SECTION("variables meant for another process are ignored") {
    auto fd = parse_listen_fds("4241", "1", self);
    REQUIRE(fd);
    CHECK_FALSE(fd->has_value());
  }
  SECTION("malformed values and more than one socket are errors") {
    for (auto [pid, fds] : {std::pair{"x", "1"}, {"-1", "1"}, {"", "1"}, {"4242", "0"}, {"4242", "1x"}, {"4242", ""}}) {
      auto fd = parse_listen_fds(pid, fds, self);
      INFO(pid << " " << fds);
      REQUIRE_FALSE(fd);
      CHECK(fd.error().code == EINVAL);
    }
    auto two = parse_listen_fds("4242", "2", self);
    REQUIRE_FALSE(two);
    CHECK(two.error().message.find("exactly one") != std::string::npos);
  }
}

TEST_CASE("socket activation: take_listen_fd unsets the variables and marks fd 3 close-on-exec", "[activation]") {
  // Put a socket at fd 3 for the duration of the test (saving what was there).
  UniqueFd saved(::fcntl(3, F_DUPFD_CLOEXEC, 10));
  UniqueFd sock = tcp_socket(true);
  REQUIRE(::dup2(sock.get(), 3) == 3);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "1", 1);
  ::setenv("LISTEN_FDNAMES", "svedbg.socket", 1);
  auto fd = gdbstub::take_listen_fd();
  REQUIRE(fd);
  REQUIRE(fd->has_value());
  CHECK(**fd == 3);
  CHECK((::fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(std::getenv("LISTEN_PID") == nullptr);
  CHECK(std::getenv("LISTEN_FDS") == nullptr);
  CHECK(std::getenv("LISTEN_FDNAMES") == nullptr);
  if (saved.valid())
    ::dup2(saved.get(), 3);
  else
    ::close(3);
  // Variables for another pid: nothing taken, and still unset for children.
  ::setenv("LISTEN_PID", "1", 1);
  ::setenv("LISTEN_FDS", "1", 1);
  auto none = gdbstub::take_listen_fd();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  CHECK(std::getenv("LISTEN_PID") == nullptr);
}

TEST_CASE("Server::adopt serves on an inherited TCP socket", "[activation]") {
  Rig rig;
  UniqueFd listener = tcp_socket(true);
  const unsigned short port = port_of(listener.get());
  REQUIRE(rig.server.adopt(listener.release()));
  CHECK(rig.server.bound().kind == gdbstub::ListenSpec::Kind::Tcp);
  CHECK(rig.server.bound().host == "127.0.0.1");
  CHECK(rig.server.bound().port == port);
  std::thread serving([&] { rig.server.run(); });
  // A client on the inherited socket gets the stop reply to `?`.
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const std::string ask = "$?#3f";
  REQUIRE(::write(client.get(), ask.data(), ask.size()) == static_cast<ssize_t>(ask.size()));
  std::string got;
  char buf[4096];
  while (got.find('#') == std::string::npos || got.size() < got.find('#') + 3) {
    ssize_t n = ::read(client.get(), buf, sizeof buf);
    REQUIRE(n > 0);
    got.append(buf, static_cast<std::size_t>(n));
  }
  CHECK(got.rfind("+$T05", 0) == 0);
  rig.server.stop();
  serving.join();
}

TEST_CASE("Server::adopt takes a unix socket and leaves its file in place", "[activation]") {
  const std::string path = temp_path("svedbg-adopt-");
  ::unlink(path.c_str());
  {
    Rig rig;
    REQUIRE(rig.server.adopt(listening_unix(path).release()));
    CHECK(rig.server.bound().kind == gdbstub::ListenSpec::Kind::Unix);
    CHECK(rig.server.bound().path == path);
  }
  struct stat sb {};
  CHECK(::lstat(path.c_str(), &sb) == 0);  // the service manager's file, not ours to remove
  ::unlink(path.c_str());
}

TEST_CASE("Server::adopt refuses what is not a listening stream socket", "[activation]") {
  Rig rig;
  SECTION("a socket that does not listen") {
    auto st = rig.server.adopt(tcp_socket(false).release());
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find("not a listening stream socket") != std::string::npos);
  }
  SECTION("a datagram socket") {
    auto st = rig.server.adopt(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EINVAL);
  }
  SECTION("a pipe") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    ::close(p[1]);
    auto st = rig.server.adopt(p[0]);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == ENOTSOCK);
    CHECK(::fcntl(p[0], F_GETFD) == -1);  // closed: adopt took it
  }
}
