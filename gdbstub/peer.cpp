#include "gdbstub/peer.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace svedbg::gdbstub {
namespace {

std::optional<std::uint32_t> hex_u32(std::string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<std::uint32_t>(d);
  }
  return v;
}

// "0100007F:04D2" (tcp) or 32 hex digits ":" port (tcp6).
std::optional<InetEndpoint> parse_endpoint(std::string_view text, bool ipv6) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view addr = text.substr(0, colon);
  auto port = hex_u32(text.substr(colon + 1));
  if (!port || *port > 0xffff || addr.size() != (ipv6 ? 32u : 8u)) return std::nullopt;
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t w = 0; w < addr.size() / 8; ++w) {
    auto word = hex_u32(addr.substr(w * 8, 8));
    if (!word) return std::nullopt;
    // The kernel printed the word as it sits in memory, read as a host integer.
    std::memcpy(bytes.data() + (ipv6 ? w * 4 : 0), &*word, 4);
  }
  if (!ipv6) {
    std::array<std::uint8_t, 4> v4{bytes[0], bytes[1], bytes[2], bytes[3]};
    return ipv4_endpoint(v4, static_cast<std::uint16_t>(*port));
  }
  return InetEndpoint{bytes, static_cast<std::uint16_t>(*port)};
}

// getpeername/getsockname's address as an InetEndpoint (nullopt: not IP).
std::optional<InetEndpoint> to_inet(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    std::array<std::uint8_t, 4> a{};
    std::memcpy(a.data(), &in.sin_addr, 4);
    return ipv4_endpoint(a, ntohs(in.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    InetEndpoint e;
    std::memcpy(e.addr.data(), &in6.sin6_addr, 16);
    e.port = ntohs(in6.sin6_port);
    return e;
  }
  return std::nullopt;
}

// "127.0.0.1:4711" (an IPv4-mapped address as IPv4, as Asio prints it).
std::string to_string(const InetEndpoint& e) {
  char text[INET6_ADDRSTRLEN] = "?";
  const bool mapped = std::all_of(e.addr.begin(), e.addr.begin() + 10, [](auto b) { return b == 0; }) &&
                      e.addr[10] == 0xff && e.addr[11] == 0xff;
  if (mapped) {
    ::inet_ntop(AF_INET, e.addr.data() + 12, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, e.addr.data(), text, sizeof text);
  }
  return fmt::format("{}:{}", text, e.port);
}

}  // namespace

Peer identify_unix_peer(int fd) {
  Peer p;
  p.address = "unix";
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
    p.authenticated = true;
    p.uid = cred.uid;
    p.gid = cred.gid;
    p.groups = groups_of(cred.uid, cred.gid);
  }
  return p;
}

Peer identify_tcp_peer(int fd) {
  Peer p;
  p.address = "?";
  sockaddr_storage remote{}, local{};
  socklen_t rlen = sizeof remote, llen = sizeof local;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &rlen) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0)
    return p;
  const auto peer = to_inet(remote), us = to_inet(local);
  if (!peer || !us) return p;
  p.address = to_string(*peer);
  if (!is_loopback(*peer)) return p;
  if (auto uid = tcp_owner(*peer, *us)) {
    p.authenticated = true;
    p.uid = *uid;
    p.gid = primary_gid(*uid).value_or(static_cast<gid_t>(-1));
    p.groups = groups_of(*uid, p.gid);
  }
  return p;
}

std::string Peer::describe() const {
  if (!authenticated) return "unauthenticated " + address;
  const char* preposition = address == "unix" ? "on" : "from";
  return fmt::format("uid {} ({}) {} {}", uid, user_name(uid), preposition, address);
}

InetEndpoint ipv4_endpoint(std::array<std::uint8_t, 4> addr, std::uint16_t port) {
  InetEndpoint e;
  e.addr[10] = e.addr[11] = 0xff;
  for (int i = 0; i < 4; ++i) e.addr[12 + i] = addr[i];
  e.port = port;
  return e;
}

std::vector<TcpSocketRow> parse_proc_net_tcp(std::string_view text, bool ipv6) {
  std::vector<TcpSocketRow> rows;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
    std::istringstream fields(line);
    std::string sl, local, remote, state, queues, timer, retransmits, uid;
    if (!(fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid)) continue;
    if (sl.empty() || sl.back() != ':') continue;  // the header
    auto l = parse_endpoint(local, ipv6);
    auto r = parse_endpoint(remote, ipv6);
    auto st = hex_u32(state);
    if (!l || !r || !st || uid.empty() || uid.find_first_not_of("0123456789") != std::string::npos) continue;
    rows.push_back(TcpSocketRow{*l, *r, *st, static_cast<uid_t>(std::stoul(uid))});
  }
  return rows;
}

std::optional<uid_t> tcp_owner(const std::vector<TcpSocketRow>& rows, const InetEndpoint& peer,
                               const InetEndpoint& us) {
  for (const auto& row : rows)
    if (row.local == peer && row.remote == us) return row.uid;
  return std::nullopt;
}

std::optional<uid_t> tcp_owner(const InetEndpoint& peer, const InetEndpoint& us, const std::string& proc) {
  for (bool v6 : {false, true}) {
    std::ifstream f(proc + (v6 ? "/net/tcp6" : "/net/tcp"));
    if (!f) continue;
    std::stringstream text;
    text << f.rdbuf();
    if (auto uid = tcp_owner(parse_proc_net_tcp(text.str(), v6), peer, us)) return uid;
  }
  return std::nullopt;
}

bool is_loopback(const InetEndpoint& e) {
  static constexpr std::array<std::uint8_t, 16> kIpv6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const bool mapped = std::all_of(e.addr.begin(), e.addr.begin() + 10, [](auto b) { return b == 0; }) &&
                      e.addr[10] == 0xff && e.addr[11] == 0xff;
  return e.addr == kIpv6Loopback || (mapped && e.addr[12] == 127);
}

std::vector<gid_t> groups_of(uid_t uid, gid_t gid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {gid};
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) return {gid};
  }
  groups.resize(static_cast<std::size_t>(n));
  return groups;
}

std::optional<gid_t> primary_gid(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  return pw.pw_gid;
}

std::string user_name(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::to_string(uid);
  return pw.pw_name;
}

}  // namespace svedbg::gdbstub
