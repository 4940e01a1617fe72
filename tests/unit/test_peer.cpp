// Peer identity (/proc/net/tcp{,6} parser) and the access policy.
#include <catch2/catch.hpp>

#include <bit>

#include "gdbstub/peer.hpp"
#include "gdbstub/peer_policy.hpp"

using namespace svedbg::gdbstub;

namespace {

// Captured on x86_64 (little-endian: each address word's bytes reversed):
// a daemon listening on 127.0.0.1:1234 (0x04D2) with one client from port
// 0xA1B2 owned by uid 1000; the daemon's own end of it is owned by uid 0.
constexpr std::string_view kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:04D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1067 1 "
    "00000000ebeda4ea 100 0 0 10 0\n"
    "   1: 0100007F:A1B2 0100007F:04D2 01 00000000:00000000 00:00000000 00000000  1000        0 2001 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:04D2 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 2002 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   3: garbage line\n";

// ::1 port 50000 (0xC350) connected to ::1 port 1234, owned by nobody; and a
// v4-mapped peer ::ffff:127.0.0.1 port 0x1111 owned by uid 7.
constexpr std::string_view kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:C350 00000000000000000000000001000000:04D2 01 00000000:00000000 "
    "00:00000000 00000000 65534        0 3001 1 0000000000000000 20 4 30 10 -1\n"
    "   1: 0000000000000000FFFF00000100007F:1111 0000000000000000FFFF00000100007F:04D2 01 00000000:00000000 "
    "00:00000000 00000000     7        0 3002 1 0000000000000000 20 4 30 10 -1\n";

const InetEndpoint kLocal4 = ipv4_endpoint({127, 0, 0, 1}, 1234);

InetEndpoint ipv6_loopback(std::uint16_t port) {
  InetEndpoint e;
  e.addr[15] = 1;
  e.port = port;
  return e;
}

}  // namespace

TEST_CASE("peer: /proc/net/tcp rows and the peer socket's owner", "[unit]") {
  if constexpr (std::endian::native != std::endian::little) {
    SUCCEED("the fixture is little-endian /proc text");
    return;
  }
  auto rows = parse_proc_net_tcp(kTcp, false);
  REQUIRE(rows.size() == 3);  // header and the garbage line skipped
  CHECK(rows[0].state == 0x0A);
  CHECK(rows[0].local == kLocal4);
  CHECK(rows[1].uid == 1000);
  // The peer's own row (local = peer, remote = us), not our end of it.
  CHECK(tcp_owner(rows, ipv4_endpoint({127, 0, 0, 1}, 0xA1B2), kLocal4) == 1000u);
  CHECK(tcp_owner(rows, kLocal4, ipv4_endpoint({127, 0, 0, 1}, 0xA1B2)) == 0u);
  CHECK_FALSE(tcp_owner(rows, ipv4_endpoint({127, 0, 0, 1}, 0xA1B3), kLocal4));
  CHECK_FALSE(tcp_owner(rows, ipv4_endpoint({127, 0, 0, 2}, 0xA1B2), kLocal4));
}

TEST_CASE("peer: /proc/net/tcp6 rows, ::1 and v4-mapped peers", "[unit]") {
  if constexpr (std::endian::native != std::endian::little) {
    SUCCEED("the fixture is little-endian /proc text");
    return;
  }
  auto rows = parse_proc_net_tcp(kTcp6, true);
  REQUIRE(rows.size() == 2);
  CHECK(tcp_owner(rows, ipv6_loopback(50000), ipv6_loopback(1234)) == 65534u);
  // A v4 peer accepted on a dual-stack listener is ::ffff:127.0.0.1.
  CHECK(tcp_owner(rows, ipv4_endpoint({127, 0, 0, 1}, 0x1111), kLocal4) == 7u);
  // The same text read as IPv4 has no valid rows.
  CHECK(parse_proc_net_tcp(kTcp6, false).empty());
}

TEST_CASE("peer: loopback addresses", "[unit]") {
  CHECK(is_loopback(ipv4_endpoint({127, 0, 0, 1}, 1)));
  CHECK(is_loopback(ipv4_endpoint({127, 9, 8, 7}, 1)));
  CHECK(is_loopback(ipv6_loopback(1)));
  CHECK_FALSE(is_loopback(ipv4_endpoint({10, 0, 0, 1}, 1)));
  InetEndpoint v6{};
  v6.addr[0] = 0xfe;
  v6.addr[1] = 0x80;
  v6.addr[15] = 1;
  CHECK_FALSE(is_loopback(v6));
}

namespace {

Peer local_user(uid_t uid, std::vector<gid_t> groups = {}) {
  Peer p;
  p.address = "unix";
  p.authenticated = true;
  p.uid = uid;
  p.gid = groups.empty() ? uid : groups.front();
  p.groups = groups.empty() ? std::vector<gid_t>{uid} : groups;
  return p;
}

}  // namespace

TEST_CASE("policy: owners, root and the admin group", "[unit]") {
  AccessPolicy policy;
  policy.daemon_uid = 0;
  CHECK(may_debug(policy, local_user(1000), 1000, "pid 5"));
  CHECK(may_debug(policy, local_user(0), 1000, "pid 5"));
  auto refused = may_debug(policy, local_user(1001), 1000, "pid 5");
  CHECK_FALSE(refused);
  CHECK_THAT(refused.reason, Catch::Contains("uid 1001") && Catch::Contains("may not debug pid 5") &&
                                 Catch::Contains("owned by uid 1000") && Catch::Contains("only its owner or root"));
  policy.admin_gid = 4242;
  policy.admin_group = "vmdebug";
  CHECK(may_debug(policy, local_user(1001, {1001, 4242}), 1000, "pid 5"));
  auto other = may_debug(policy, local_user(1002, {1002, 27}), 1000, "pid 5");
  CHECK_FALSE(other);
  CHECK_THAT(other.reason, Catch::Contains("root or group vmdebug"));
  // Identified peers may always connect.
  CHECK(may_connect(policy, local_user(1002)));
}

TEST_CASE("policy: peers without identity", "[unit]") {
  Peer remote;
  remote.address = "10.0.0.2:4711";
  AccessPolicy policy;
  policy.daemon_uid = 1000;
  auto refused = may_connect(policy, remote);
  CHECK_FALSE(refused);
  CHECK_THAT(refused.reason, Catch::Contains("10.0.0.2:4711") && Catch::Contains("--allow-remote-unauthenticated"));
  CHECK_FALSE(may_debug(policy, remote, 1000, "pid 5"));
  policy.allow_unauthenticated = true;
  CHECK(may_connect(policy, remote));
  CHECK(may_debug(policy, remote, 1000, "pid 5"));  // the daemon's own uid
  // Never another user's VMM, even for a root daemon.
  CHECK_FALSE(may_debug(policy, remote, 1001, "pid 6"));
  AccessPolicy root_daemon;
  root_daemon.daemon_uid = 0;
  root_daemon.allow_unauthenticated = true;
  CHECK_FALSE(may_debug(root_daemon, remote, 1000, "pid 5"));
  CHECK(may_debug(root_daemon, remote, 0, "pid 1"));
}

TEST_CASE("policy: what a Server admits at accept", "[unit]") {
  AccessPolicy policy;
  policy.daemon_uid = 1000;
  Peer remote;
  remote.address = "10.0.0.2:4711";
  // No identity: refused by either kind of daemon, with may_connect's reason.
  CHECK_THAT(may_serve(policy, remote, true, std::nullopt).reason, Catch::Contains("--allow-remote-unauthenticated"));
  CHECK_FALSE(may_serve(policy, remote, false, std::nullopt));
  // A multi daemon admits any identified peer (it decides per VMM later).
  CHECK(may_serve(policy, local_user(1001), true, 1000));
  // A single-guest daemon: the guest's owner (default: the daemon's uid).
  CHECK(may_serve(policy, local_user(1000), false, std::nullopt));
  auto refused = may_serve(policy, local_user(1001), false, std::nullopt);
  CHECK_FALSE(refused);
  CHECK_THAT(refused.reason, Catch::Contains("may not debug this guest") && Catch::Contains("owned by uid 1000"));
  CHECK(may_serve(policy, local_user(1001), false, 1001));
  CHECK_FALSE(may_serve(policy, local_user(1000), false, 1001));
}
