#include "gdbstub/peer_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace svedbg::gdbstub {

Decision may_connect(const AccessPolicy& policy, const Peer& peer) {
  if (peer.authenticated || policy.allow_unauthenticated) return {true, {}};
  return {false, fmt::format("connection from {} has no identity (only unix-socket and loopback TCP peers are "
                             "identified); the daemon would need --allow-remote-unauthenticated",
                             peer.address)};
}

Decision may_debug(const AccessPolicy& policy, const Peer& peer, uid_t owner, const std::string& what) {
  if (!peer.authenticated) {
    // Allowed to connect by the operator's flag: the daemon's own VMMs only,
    // never those of other users, even when the daemon runs as root.
    if (policy.allow_unauthenticated && owner == policy.daemon_uid) return {true, {}};
    return {false, fmt::format("{} may not debug {}: it is owned by uid {} ({}) and an unauthenticated peer may "
                               "only debug the daemon's own (uid {})",
                               peer.describe(), what, owner, user_name(owner), policy.daemon_uid)};
  }
  if (peer.uid == owner || peer.uid == 0) return {true, {}};
  if (policy.admin_gid && std::find(peer.groups.begin(), peer.groups.end(), *policy.admin_gid) != peer.groups.end())
    return {true, {}};
  std::string admins = policy.admin_gid ? fmt::format(", root or group {}", policy.admin_group) : " or root";
  return {false, fmt::format("{} may not debug {}: it is owned by uid {} ({}); only its owner{} may", peer.describe(),
                             what, owner, user_name(owner), admins)};
}

Decision may_serve(const AccessPolicy& policy, const Peer& peer, bool per_vmm, std::optional<uid_t> guest_owner) {
  if (auto d = may_connect(policy, peer); !d || per_vmm) return d;
  return may_debug(policy, peer, guest_owner.value_or(policy.daemon_uid), "this guest");
}

}  // namespace svedbg::gdbstub
