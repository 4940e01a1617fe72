// gdbstub::ProcessHost: the guests a `serve --multi` daemon can attach to.
//
// Contract: the extended-remote session (session_extended.cpp) lists
// processes for `info os processes` (qXfer:osdata:read:processes) and
// attaches one per client with `attach PID` (vAttach), through this
// interface; the implementation (introspect/multi_host.hpp) knows what a
// process is (a KVM VMM found by the same scan as `svedbg ps`, or the
// simulated guest). processes() lists every candidate with its owner's uid;
// the caller filters them by the access policy (peer_policy.hpp). attach()
// returns an AttachedProcess whose target() is ready for Target::attach()
// (which stops the guest); destroying it lets the VMM go entirely (as when
// `serve --pid` exits), so another client may attach it next.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

struct ProcessInfo {
  long pid = 0;
  uid_t uid = 0;        // the owner of the VMM process
  std::string command;  // its command line, for `info os processes`
  unsigned vcpus = 0;
};

class AttachedProcess {
 public:
  virtual ~AttachedProcess() = default;
  virtual Target& target() = 0;
};

class ProcessHost {
 public:
  virtual ~ProcessHost() = default;
  virtual Result<std::vector<ProcessInfo>> processes() = 0;
  virtual Result<std::unique_ptr<AttachedProcess>> attach(long pid) = 0;
};

}  // namespace svedbg::gdbstub
