#include "gdbstub/peer.hpp"

#include <grp.h>
#include <pwd.h>
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

}  // namespace

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
