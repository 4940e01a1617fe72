// Listen addresses (listen_spec.hpp).
#include "gdbstub/listen_spec.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include <optional>
#include <string>

#include <fmt/format.h>

namespace svedbg::gdbstub {

namespace {

// A numeric address as Asio's ip::make_address reads it (IPv6 first, then
// IPv4; inet_pton(3)), or nullopt. An IPv6 address may end in %SCOPE
// (an interface name or number), which is not part of the address; the
// text before it is at most 256 characters (max_addr_v6_str_len).
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

std::optional<IpAddress> parse_ip(const std::string& host) {
  IpAddress a;
  const auto scope = host.find('%');
  if (scope == std::string::npos || scope <= 256) {
    const std::string address = host.substr(0, scope);
    if (::inet_pton(AF_INET6, address.c_str(), a.bytes.data()) == 1) {
      a.v6 = true;
      return a;
    }
  }
  if (::inet_pton(AF_INET, host.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

}  // namespace

std::string ListenSpec::to_string() const {
  if (kind == Kind::Unix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool ListenSpec::is_loopback() const {
  if (kind == Kind::Unix) return true;
  auto a = parse_ip(host);
  if (!a) return false;
  // As Asio's address_v4/v6::is_loopback: 127.0.0.0/8, and ::1 only.
  if (!a->v6) return a->bytes[0] == 127;
  return std::all_of(a->bytes.begin(), a->bytes.end() - 1, [](std::uint8_t b) { return b == 0; }) && a->bytes[15] == 1;
}

Result<ListenSpec> parse_listen_spec(const std::string& text) {
  ListenSpec spec;
  if (text.rfind("unix:", 0) == 0) {
    spec.kind = ListenSpec::Kind::Unix;
    spec.path = text.substr(5);
    if (spec.path.empty()) return make_error(EINVAL, "--listen unix:PATH needs a path");
    if (spec.path.size() >= sizeof(sockaddr_un{}.sun_path))
      return make_error(ENAMETOOLONG, "unix socket path too long: {}", spec.path);
    return spec;
  }
  std::string host = spec.host, port = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(EINVAL, "bad listen address '{}': expected [HOST]:PORT", text);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) host = spec.host;
  }
  unsigned long value = 0;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      (value = std::stoul(port)) > 65535)
    return make_error(EINVAL, "bad listen address '{}': expected HOST:PORT or unix:PATH", text);
  if (!parse_ip(host)) return make_error(EINVAL, "bad listen address '{}': '{}' is not an IP address", text, host);
  spec.host = host;
  spec.port = static_cast<unsigned short>(value);
  return spec;
}

}  // namespace svedbg::gdbstub
