// Listen addresses (gdbstub/listen_spec.hpp) and the log lines of a
// connection's end (gdbstub/connection_end.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "gdbstub/connection_end.hpp"
#include "gdbstub/listen_spec.hpp"

using namespace svedbg::gdbstub;
using svedbg::Detached;

namespace {

ListenSpec parsed(const std::string& text) {
  auto spec = parse_listen_spec(text);
  INFO(text << ": " << (spec ? std::string() : spec.error().message));
  REQUIRE(spec);
  return *spec;
}

std::string refusal(const std::string& text) {
  auto spec = parse_listen_spec(text);
  REQUIRE_FALSE(spec);
  return spec.error().message;
}

}  // namespace

TEST_CASE("listen spec: TCP forms", "[unit]") {
  CHECK(parsed("127.0.0.1:1234").to_string() == "127.0.0.1:1234");
  CHECK(parsed(":0").to_string() == "127.0.0.1:0");
  CHECK(parsed("4321").to_string() == "127.0.0.1:4321");
  CHECK(parsed("0.0.0.0:65535").to_string() == "0.0.0.0:65535");
  CHECK(parsed("[::1]:80").to_string() == "[::1]:80");
  CHECK(parsed("[fe80::1%lo]:80").host == "fe80::1%lo");  // a scope, as Asio takes it
  CHECK(parsed("::1:80").host == "::1");                  // the last colon splits
  CHECK(parsed("127.0.0.1:1234").kind == ListenSpec::Kind::Tcp);
}

TEST_CASE("listen spec: unix sockets", "[unit]") {
  auto spec = parsed("unix:/run/svedbg/svedbg.sock");
  CHECK(spec.kind == ListenSpec::Kind::Unix);
  CHECK(spec.path == "/run/svedbg/svedbg.sock");
  CHECK(spec.to_string() == "unix:/run/svedbg/svedbg.sock");
  CHECK(spec.is_loopback());
  CHECK(refusal("unix:") == "--listen unix:PATH needs a path");
  CHECK_THAT(refusal("unix:/" + std::string(120, 'x')), Catch::Contains("unix socket path too long"));
}

TEST_CASE("listen spec: refusals", "[unit]") {
  CHECK(refusal("localhost:1234") == "bad listen address 'localhost:1234': 'localhost' is not an IP address");
  CHECK(refusal("127.1:1234") == "bad listen address '127.1:1234': '127.1' is not an IP address");
  CHECK(refusal("[::1]") == "bad listen address '[::1]': expected [HOST]:PORT");
  CHECK(refusal("[::1]x80") == "bad listen address '[::1]x80': expected [HOST]:PORT");
  for (const char* bad : {"", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:123456", "127.0.0.1:-1", "x"})
    CHECK(refusal(bad) == std::string("bad listen address '") + bad + "': expected HOST:PORT or unix:PATH");
}

TEST_CASE("listen spec: loopback", "[unit]") {
  CHECK(parsed("127.0.0.1:1").is_loopback());
  CHECK(parsed("127.200.3.4:1").is_loopback());
  CHECK(parsed("[::1]:1").is_loopback());
  CHECK_FALSE(parsed("0.0.0.0:1").is_loopback());
  CHECK_FALSE(parsed("10.0.0.1:1").is_loopback());
  CHECK_FALSE(parsed("[::]:1").is_loopback());
  CHECK_FALSE(parsed("[::2]:1").is_loopback());
  CHECK_FALSE(parsed("[::ffff:127.0.0.1]:1").is_loopback());  // as Asio's address_v6::is_loopback
  ListenSpec unparsable;
  unparsable.host = "example";
  CHECK_FALSE(unparsable.is_loopback());
}

TEST_CASE("connection end: log lines", "[unit]") {
  ServerOptions limits;
  limits.write_stall_timeout = std::chrono::milliseconds(250);
  limits.handshake_timeout = std::chrono::milliseconds(1500);
  limits.idle_timeout = std::chrono::milliseconds(60000);
  std::vector<std::pair<std::string, std::string>> lines;
  auto log = [&lines](std::string_view kind, const std::string& line) { lines.emplace_back(kind, line); };
  int detached = 0;
  auto detach = [&detached] {
    ++detached;
    return std::string(describe(Detached::GuestGone));
  };
  using Lines = std::vector<std::pair<std::string, std::string>>;

  log_connection_end({Cut::None, true, true}, "unix", limits, detach, log);
  CHECK(lines == Lines{{"drop", "client unix finished"}});
  CHECK(detached == 0);

  lines.clear();
  log_connection_end({Cut::Handshake, false, false}, "127.0.0.1:9", limits, detach, log);
  CHECK(lines == Lines{{"cut", "connection from 127.0.0.1:9 sent no packet in 1500 ms: disconnected"},
                       {"drop", "connection from 127.0.0.1:9 closed without a packet; the guest was not stopped"}});
  CHECK(detached == 0);

  lines.clear();
  log_connection_end({Cut::Idle, true, false}, "unix", limits, detach, log);
  CHECK(lines == Lines{{"cut", "client unix sent nothing for 60000 ms with the guest stopped: disconnected"},
                       {"drop", "client unix dropped; the guest had exited"}});
  CHECK(detached == 1);

  lines.clear();
  log_connection_end({Cut::Stalled, true, false}, "unix", limits, detach, log);
  CHECK(lines.front().second == "client unix stopped reading replies (no output consumed for 250 ms): disconnected");
  lines.clear();
  log_connection_end({Cut::Overflow, true, true}, "unix", limits, detach, log);
  CHECK(lines.front().second == "client unix stopped reading replies (over 4194304 bytes pending): disconnected");

  CHECK(std::string(describe(Detached::Resumed)) == "guest resumed");
  CHECK(std::string(describe(Detached::NeverRuns)) == "nothing to resume (the target never runs)");
}
