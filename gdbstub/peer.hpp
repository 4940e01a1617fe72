// gdbstub::Peer: who is at the other end of a client connection.
//
// Contract: a Peer is identified once, when its connection is accepted, and
// never changes. A unix-socket peer is identified by the kernel's
// SO_PEERCRED (uid and gid of the process that connected, unix(7)); a
// loopback TCP peer by the owning uid of its own socket, which the kernel
// shows in the `uid` column of /proc/net/tcp and /proc/net/tcp6 (proc(5),
// "/proc/net/tcp": the row whose local address is the peer's endpoint and
// whose remote address is ours). Any other peer, or a loopback one whose
// socket is not found (another network namespace), has no identity
// (authenticated == false). Supplementary groups come from the user
// database (getgrouplist(3)) plus the primary gid, for the admin-group rule
// (peer_policy.hpp). The /proc/net/tcp parser is pure and takes the file's
// text, so unit tests feed it fixtures.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svedbg::gdbstub {

struct Peer {
  std::string address;  // "unix" or "HOST:PORT", as logged
  bool authenticated = false;
  uid_t uid = static_cast<uid_t>(-1);  // meaningful when authenticated
  gid_t gid = static_cast<gid_t>(-1);
  std::vector<gid_t> groups;  // primary gid and supplementary groups
  // "uid 1000 (alice) on unix", "uid 0 (root) from 127.0.0.1:4711",
  // "unauthenticated 10.0.0.2:4711".
  std::string describe() const;
};

// An IP endpoint as 16 address bytes (IPv4 as ::ffff:a.b.c.d) and a port.
struct InetEndpoint {
  std::array<std::uint8_t, 16> addr{};
  std::uint16_t port = 0;
  bool operator==(const InetEndpoint&) const = default;
};
InetEndpoint ipv4_endpoint(std::array<std::uint8_t, 4> addr, std::uint16_t port);

// One row of /proc/net/tcp or /proc/net/tcp6.
struct TcpSocketRow {
  InetEndpoint local;
  InetEndpoint remote;
  unsigned state = 0;  // 1 ESTABLISHED, 0x0A LISTEN (include/net/tcp_states.h)
  uid_t uid = 0;
};

// Parses the text of /proc/net/tcp (ipv6 false) or /proc/net/tcp6 (true):
// the header line and malformed rows are skipped. Addresses are printed by
// the kernel as 32-bit words in host byte order (%08X of the in-memory
// word), so a word's bytes are those of the value as stored on this host.
std::vector<TcpSocketRow> parse_proc_net_tcp(std::string_view text, bool ipv6);

// The uid owning the socket at `peer` connected to `us`, among `rows`.
std::optional<uid_t> tcp_owner(const std::vector<TcpSocketRow>& rows, const InetEndpoint& peer, const InetEndpoint& us);
// The same, reading PROC/net/tcp and PROC/net/tcp6.
std::optional<uid_t> tcp_owner(const InetEndpoint& peer, const InetEndpoint& us, const std::string& proc = "/proc");

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const InetEndpoint& e);

// The peer of an accepted unix-socket connection (SO_PEERCRED, unix(7)).
Peer identify_unix_peer(int fd);
// The peer of an accepted TCP connection: its address, and its identity
// when it is on loopback and its socket is found in /proc/net/tcp{,6}.
Peer identify_tcp_peer(int fd);

// The user's groups (getgrouplist(3)) with `gid` first; just {gid} for a
// uid without a passwd entry.
std::vector<gid_t> groups_of(uid_t uid, gid_t gid);
// The primary gid of `uid` from the user database.
std::optional<gid_t> primary_gid(uid_t uid);
// "alice" for a known uid, else the number.
std::string user_name(uid_t uid);

}  // namespace svedbg::gdbstub
