// gdbstub::AccessPolicy: which VMMs a peer (peer.hpp) may list and debug.
//
// Contract (docs/multi.md): a peer without identity (not a unix socket, not
// loopback TCP, or its socket not found) may connect only when the operator
// allowed it (allow_unauthenticated, `--allow-remote-unauthenticated`), and
// then debugs only VMMs owned by the daemon's own uid. An identified peer
// may debug a VMM it owns (same uid as the VMM process), or any VMM if it is
// root or a member of the admin group. The same rule serves `serve --multi`
// (per VMM, for listing and attaching) and the single-guest `serve` (for the
// connection, against the one guest's owner). Refusals carry a reason the
// client and the log are told. Pure: no I/O.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "gdbstub/peer.hpp"

namespace svedbg::gdbstub {

struct AccessPolicy {
  uid_t daemon_uid = static_cast<uid_t>(-1);  // -1: the Server fills in its euid
  std::optional<gid_t> admin_gid;             // --admin-group
  std::string admin_group;                    // its name, for messages
  bool allow_unauthenticated = false;
};

struct Decision {
  bool allowed = false;
  std::string reason;  // why not (empty when allowed)
  explicit operator bool() const { return allowed; }
};

// May this peer talk to the daemon at all?
Decision may_connect(const AccessPolicy& policy, const Peer& peer);
// May it debug a guest whose VMM is owned by `owner` (`what` names the guest
// in the reason, e.g. "pid 1234" or "this guest")?
Decision may_debug(const AccessPolicy& policy, const Peer& peer, uid_t owner, const std::string& what);
// May a Server serve this newly accepted peer? A multi-VMM daemon
// (`per_vmm`) only checks may_connect and decides per VMM later; a
// single-guest daemon decides for its one guest at once, owned by
// `guest_owner` (nullopt: the daemon's uid) and named "this guest".
Decision may_serve(const AccessPolicy& policy, const Peer& peer, bool per_vmm, std::optional<uid_t> guest_owner);

}  // namespace svedbg::gdbstub
