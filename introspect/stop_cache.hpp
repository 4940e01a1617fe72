// introspect::StopCache: KVM register values fetched during one stop.
//
// Contract: each (vCPU, KVM register ID) is fetched from the backend at most
// once per stop, and only when somebody asks for it (a `g` for one thread
// does not touch the others). A failed read is remembered too: asking again
// in the same stop returns the same error without another backend call.
// prefetch() fetches a set the caller is about to read (the registers of a
// `g` packet, a stop reply's expedited registers, one register of every
// vCPU) in one Backend::get_regs
// call, which the attach backend turns into one trip into the VMM; already
// cached registers are not fetched again, and each register fetched counts
// as one fetch, as with get(). Writes go through to the backend first and
// then update the cache. invalidate() is called before any vCPU runs again
// (resume, step, a monitor command that changes guest state). fetches()
// counts backend reads, so tests can assert the at-most-once rule; the time
// spent in backend reads is kept too (`monitor stats`, bench/).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <utility>

#include "gdbstub/target.hpp"
#include "kvm/backend.hpp"

#include "introspect/page_walk.hpp"

namespace svedbg::introspect {

using gdbstub::Bytes;

class StopCache {
 public:
  explicit StopCache(kvm::Backend& backend) : backend_(backend) {}
  // Runs before every backend call (GuestTarget completes a client's
  // pending attach stop there: registers are only read from stopped vCPUs).
  void set_before_fetch(std::function<void()> hook) { before_fetch_ = std::move(hook); }

  // The register's full KVM-sized value (kvm::reg_size(id) bytes).
  Result<const Bytes*> get(unsigned vcpu, std::uint64_t id);
  using Key = std::pair<unsigned, std::uint64_t>;  // (vCPU, KVM register ID)
  // Fetches those of `ids` not cached yet (values or errors) in one batch.
  void prefetch(unsigned vcpu, std::span<const std::uint64_t> ids);
  // The same for registers of several vCPUs, in one batch (e.g. ZCR_EL1 of
  // every vCPU, which a thread list shows: one trip into an attached VMM
  // instead of one per vCPU).
  void prefetch(std::span<const Key> regs);
  Status set(unsigned vcpu, std::uint64_t id, std::span<const std::byte> value);
  void invalidate() {
    values_.clear();
    errors_.clear();
    fetches_at_invalidate_ = fetches_;
    batches_at_invalidate_ = batches_;
    backend_time_at_invalidate_ = backend_time_;
  }
  std::uint64_t fetches() const { return fetches_; }
  // Backend reads since the values were last dropped (i.e. in this stop).
  std::uint64_t fetches_this_stop() const { return fetches_ - fetches_at_invalidate_; }
  // Backend calls that read registers (get_one_reg or one get_regs) in this stop.
  std::uint64_t backend_calls_this_stop() const { return batches_ - batches_at_invalidate_; }
  std::chrono::nanoseconds backend_time() const { return backend_time_; }
  std::chrono::nanoseconds backend_time_this_stop() const { return backend_time_ - backend_time_at_invalidate_; }
  std::size_t cached() const { return values_.size(); }
  // Whether the register was fetched in this stop (a value or an error).
  bool contains(unsigned vcpu, std::uint64_t id) const {
    const auto key = std::make_pair(vcpu, id);
    return values_.count(key) || errors_.count(key);
  }

 private:
  kvm::Backend& backend_;
  std::function<void()> before_fetch_;
  std::map<Key, Bytes> values_;
  std::map<Key, Error> errors_;
  std::uint64_t fetches_ = 0;
  std::uint64_t fetches_at_invalidate_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t batches_at_invalidate_ = 0;
  std::chrono::nanoseconds backend_time_{0};
  std::chrono::nanoseconds backend_time_at_invalidate_{0};
};

// The four registers a page-table walk needs (SCTLR_EL1, TCR_EL1,
// TTBR0/1_EL1) of `vcpu`, in one prefetch through `cache`.
Result<TranslationRegs> read_translation_regs(StopCache& cache, unsigned vcpu);

}  // namespace svedbg::introspect
