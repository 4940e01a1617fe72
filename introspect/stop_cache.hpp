// introspect::StopCache: KVM register values fetched during one stop.
//
// Contract: each (vCPU, KVM register ID) is fetched from the backend at most
// once per stop, and only when somebody asks for it (a `g` for one thread
// does not touch the others). Writes go through to the backend first and
// then update the cache. invalidate() is called before any vCPU runs again
// (resume, step, a monitor command that changes guest state). fetches()
// counts backend reads, so tests can assert the at-most-once rule.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <utility>

#include "gdbstub/target.hpp"
#include "introspect/backend.hpp"

namespace svedbg::introspect {

using gdbstub::Bytes;

class StopCache {
 public:
  explicit StopCache(Backend& backend) : backend_(backend) {}

  // The register's full KVM-sized value (kvm::reg_size(id) bytes).
  Result<const Bytes*> get(unsigned vcpu, std::uint64_t id);
  Status set(unsigned vcpu, std::uint64_t id, std::span<const std::byte> value);
  void invalidate() {
    values_.clear();
    fetches_at_invalidate_ = fetches_;
  }
  std::uint64_t fetches() const { return fetches_; }
  // Backend reads since the values were last dropped (i.e. in this stop).
  std::uint64_t fetches_this_stop() const { return fetches_ - fetches_at_invalidate_; }
  std::size_t cached() const { return values_.size(); }

 private:
  Backend& backend_;
  std::map<std::pair<unsigned, std::uint64_t>, Bytes> values_;
  std::uint64_t fetches_ = 0;
  std::uint64_t fetches_at_invalidate_ = 0;
};

}  // namespace svedbg::introspect
