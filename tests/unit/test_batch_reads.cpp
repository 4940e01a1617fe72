// Batched register reads: Backend::get_regs, the StopCache
// prefetch, where GuestTarget and the snapshots batch, and the layout of the
// attach backend's batch table (kvm/attach/inject_batch.hpp). The attach backend
// itself runs on real KVM only (tests/nested/cases/attach_batch).
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <set>

#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/stop_cache.hpp"
#include "introspect/vcpu_snapshot.hpp"
#include "kvm/attach/inject_batch.hpp"
#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;
using introspect::GuestTarget;
using introspect::SimBackend;
using introspect::SimConfig;
using kvm::Backend;

namespace {

// The simulated guest, counting how registers are asked for; `batches`
// makes it claim batches are cheap (as the attach backend does), `fail`
// makes one register fail inside batches.
class CountingBackend final : public kvm::Backend, public kvm::RunControl {
 public:
  explicit CountingBackend(SimConfig cfg = {}) : sim_(cfg) {}
  SimBackend& sim() { return sim_; }

  unsigned single = 0;                                   // get_one_reg calls
  std::vector<std::vector<std::uint64_t>> batches_seen;  // ids per get_regs call
  bool batches = false;
  std::uint64_t fail = 0;  // an ID that fails with EIO in get_regs

  std::string name() const override { return "counting"; }
  unsigned vcpu_count() const override { return sim_.vcpu_count(); }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override {
    ++single;
    return sim_.get_one_reg(vcpu, id, out);
  }
  void get_regs(std::span<RegRead> reads) override {
    std::vector<std::uint64_t> ids;
    for (auto& r : reads) {
      ids.push_back(r.id);
      r.status = r.id == fail ? Status{make_error(EIO, "{} fails", kvm::reg_name(r.id))}
                              : sim_.get_one_reg(r.vcpu, r.id, r.out);
    }
    batches_seen.push_back(ids);
  }
  bool batches_reads() const override { return batches; }
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override {
    return sim_.set_one_reg(vcpu, id, in);
  }
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override {
    return sim_.read_phys(gpa, out);
  }
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override {
    return sim_.write_phys(gpa, in);
  }
  std::vector<kvm::MemoryRange> memory_map() const override { return sim_.memory_map(); }
  Status set_guest_debug(unsigned vcpu, const kvm::GuestDebug& d) override { return sim_.set_guest_debug(vcpu, d); }
  kvm::DebugCaps debug_caps() const override { return sim_.debug_caps(); }
  Status resume(std::span<const unsigned> step, bool others_run) override { return sim_.resume(step, others_run); }
  void interrupt() override { sim_.interrupt(); }
  std::optional<kvm::BackendStop> poll_stop() override { return sim_.poll_stop(); }
  bool running() const override { return sim_.running(); }
  void set_stop_notifier(std::function<void()> n) override { sim_.set_stop_notifier(std::move(n)); }
  kvm::RunControl* run_control() override { return this; }
  void add_monitor_commands(MonitorRegistry& r) override { sim_.add_monitor_commands(r); }
  svedbg::Detached detach() override { return sim_.detach(); }
  void kill() override { sim_.kill(); }

  void reset_counts() {
    single = 0;
    batches_seen.clear();
  }

 private:
  SimBackend sim_;
};

std::unique_ptr<GuestTarget> make(kvm::Backend& b) {
  auto t = GuestTarget::create(b, {});
  REQUIRE(t);
  REQUIRE(t.value()->attach());
  return std::move(t).value();
}

constexpr unsigned kZ0 = 34, kP0 = 68, kVg = 85, kX0 = 0;

std::uint64_t u64_at(std::span<const std::byte> b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(b[at + i])) << (8 * i);
  return v;
}

}  // namespace

TEST_CASE("Backend::get_regs by default reads each register with get_one_reg", "[batch]") {
  SimBackend sim(SimConfig{});
  std::vector<std::byte> z(kvm::kZregBytes), x(8), bad(3);
  std::vector<kvm::Backend::RegRead> reads{{1, kvm::sve_zreg(3), z, {}},
                                           {1, kvm::core_x(4), x, {}},
                                           {1, kvm::core_x(5), bad, {}},
                                           {9, kvm::core_pc(), x, {}}};
  sim.kvm::Backend::get_regs(reads);
  CHECK(reads[0].status);
  CHECK(std::to_integer<unsigned>(z[0]) == SimBackend::fixture_z_byte(1, 3, 0));
  CHECK(reads[1].status);
  CHECK(u64_at(x, 0) == 0x1000 + 4);
  REQUIRE_FALSE(reads[2].status);  // wrong size: only this one fails
  CHECK(reads[2].status.error().code == EINVAL);
  REQUIRE_FALSE(reads[3].status);
  CHECK(reads[3].status.error().code == ESRCH);
}

TEST_CASE("StopCache::prefetch fetches only what is not cached, in one call, each register once", "[batch]") {
  CountingBackend b;
  introspect::StopCache cache(b);
  REQUIRE(cache.get(0, kvm::core_pc()));
  const std::uint64_t ids[] = {kvm::core_pc(), kvm::core_sp(), kvm::core_x(1), kvm::core_x(1), kvm::sve_zreg(0)};
  cache.prefetch(0, ids);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0] == std::vector<std::uint64_t>{kvm::core_sp(), kvm::core_x(1), kvm::sve_zreg(0)});
  CHECK(cache.fetches() == 4);  // pc, then three in the batch
  CHECK(cache.fetches_this_stop() == 4);
  CHECK(cache.backend_calls_this_stop() == 2);
  b.reset_counts();
  auto sp = cache.get(0, kvm::core_sp());
  REQUIRE(sp);
  CHECK(u64_at(**sp, 0) == 0x80000000);
  cache.prefetch(0, ids);  // everything cached: no call at all
  CHECK(b.single == 0);
  CHECK(b.batches_seen.empty());
  // Another vCPU is another set of registers.
  cache.prefetch(1, ids);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0].size() == 4);
  // A new stop fetches again.
  cache.invalidate();
  CHECK(cache.fetches_this_stop() == 0);
  cache.prefetch(0, ids);
  CHECK(b.batches_seen.size() == 2);
  CHECK(cache.fetches_this_stop() == 4);
}

TEST_CASE("StopCache remembers a failed read for the stop, from a batch or alone", "[batch]") {
  CountingBackend b;
  b.fail = kvm::core_x(7);
  introspect::StopCache cache(b);
  const std::uint64_t ids[] = {kvm::core_x(6), kvm::core_x(7), kvm::core_x(8)};
  cache.prefetch(0, ids);
  CHECK(cache.get(0, kvm::core_x(6)));
  CHECK(cache.get(0, kvm::core_x(8)));
  auto bad = cache.get(0, kvm::core_x(7));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EIO);
  CHECK(b.single == 0);  // not asked again
  CHECK(cache.fetches() == 3);
  // A failed single read is not repeated either.
  auto vreg = cache.get(0, kvm::core_vreg(0));  // KVM refuses V registers on SVE vCPUs
  REQUIRE_FALSE(vreg);
  CHECK(b.single == 1);
  REQUIRE_FALSE(cache.get(0, kvm::core_vreg(0)));
  CHECK(b.single == 1);
  // A write replaces the error with the value.
  std::vector<std::byte> v(8, std::byte{0x5a});
  REQUIRE(cache.set(0, kvm::core_x(7), v));
  auto good = cache.get(0, kvm::core_x(7));
  REQUIRE(good);
  CHECK(u64_at(**good, 0) == 0x5a5a5a5a5a5a5a5aull);
  // The next stop tries again.
  cache.invalidate();
  cache.prefetch(0, ids);
  CHECK(b.batches_seen.size() == 2);
}

TEST_CASE("GuestTarget: a g packet is one batch, a stop's expedited registers another", "[batch]") {
  CountingBackend b;
  auto t = make(b);
  b.reset_counts();
  auto g = t->read_all_registers(1);
  REQUIRE(g);
  // ZCR_EL1 alone (the VL decides the layout), then the other 98 at once.
  CHECK(b.single == 1);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0].size() == 98);
  CHECK(std::set<std::uint64_t>(b.batches_seen[0].begin(), b.batches_seen[0].end()).size() == 98);
  CHECK(t->cache().fetches_this_stop() == 99);
  CHECK(t->cache().backend_calls_this_stop() == 2);
  b.reset_counts();
  REQUIRE(t->read_all_registers(1));
  CHECK(b.single == 0);
  CHECK(b.batches_seen.empty());
  // A new stop: x29, pc, PSTATE and ZCR_EL1 in one batch, as the stop reply
  // needs them; then the stack pointer PSTATE selects (SP_EL1 at EL1h).
  gdbstub::ResumeAction step{gdbstub::ResumeKind::Step, 2};
  REQUIRE(t->resume(std::span(&step, 1)));
  auto stop = t->poll_stop();
  REQUIRE(stop);
  REQUIRE(stop->thread == 2);
  CHECK(b.single == 0);
  // Before the step, step-irq reads the stepped vCPU's pc and PSTATE (its
  // IRQ/FIQ masks; both set in the fixture, so nothing more), one batch.
  REQUIRE(b.batches_seen.size() == 2);
  CHECK(b.batches_seen[0] == std::vector<std::uint64_t>{kvm::core_pc(), kvm::core_pstate()});
  CHECK(b.batches_seen[1] ==
        std::vector<std::uint64_t>{kvm::core_x(29), kvm::core_pc(), kvm::core_pstate(), kvm::zcr_el1()});
  for (unsigned r : t->expedited_registers(2)) REQUIRE(t->read_register(2, r));
  CHECK(b.single == 1);  // sp_el1
  CHECK(b.batches_seen.size() == 2);
  CHECK(t->cache().fetches_this_stop() == 5);
  auto stats = t->monitor("stats");
  REQUIRE(stats);
  CHECK_THAT(*stats, Catch::Contains("5 in this stop (5 distinct registers cached)"));
  CHECK_THAT(*stats, Catch::Contains("backend read calls in this stop: 2 ("));
}

TEST_CASE("GuestTarget: the first p of a register reads its group of the thread where batches are cheap", "[batch]") {
  CountingBackend b;
  b.batches = true;
  auto t = make(b);
  b.reset_counts();
  auto z5 = t->read_register(2, kZ0 + 5);
  REQUIRE(z5);
  CHECK(std::to_integer<unsigned>((*z5)[0]) == SimBackend::fixture_z_byte(1, 5, 0));
  CHECK(b.single == 0);
  REQUIRE(b.batches_seen.size() == 2);
  CHECK(b.batches_seen[0] == std::vector<std::uint64_t>(4, kvm::zcr_el1()));  // every vCPU's VL at once
  CHECK(b.batches_seen[1].size() == 32 + 2 + 16 + 1);                         // Z0-31, fpsr, fpcr, P0-15, FFR of vCPU 1
  b.reset_counts();
  for (unsigned r = kZ0; r < kP0 + 17; ++r) REQUIRE(t->read_register(2, r));  // Z, fpsr, fpcr, P, FFR
  CHECK(b.single == 0);
  CHECK(b.batches_seen.empty());
  // The general registers as one group, the system registers as another.
  auto x3 = t->read_register(2, kX0 + 3);
  REQUIRE(x3);
  CHECK(u64_at(*x3, 0) == 0x1000 + 3);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0].size() == 35);  // x0-x30, sp (SP_EL0 and SP_EL1), pc, cpsr
  for (unsigned r = 0; r < 34; ++r) REQUIRE(t->read_register(2, r));
  REQUIRE(t->read_register(2, kVg + 2));  // sctlr_el1, after vg and zcr_el1
  REQUIRE(b.batches_seen.size() == 2);
  CHECK(b.batches_seen[1].size() == 12);  // the 14 system registers but ZCR_EL1 and sp_el1, cached
  CHECK(b.single == 0);
  CHECK(t->cache().fetches_this_stop() == 99 + 3);  // and the other vCPUs' ZCR_EL1
}

TEST_CASE("GuestTarget: a thread list reads every vCPU's VL in one batch where batches are cheap", "[batch]") {
  SimConfig cfg;
  cfg.vcpus = 64;
  CountingBackend b(cfg);
  b.batches = true;
  auto t = make(b);
  b.reset_counts();
  for (auto tid : t->threads()) CHECK_THAT(t->thread_extra_info(tid), Catch::StartsWith("vCPU "));
  CHECK(b.single == 0);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0] == std::vector<std::uint64_t>(64, kvm::zcr_el1()));
  CHECK(t->thread_extra_info(64) == "vCPU 63, VL 256 bits");  // the fixture's VLs cycle 2048, 512, 128, 256
  // A stop reply's registers of one vCPU are still one batch of their own.
  b.reset_counts();
  REQUIRE(t->read_all_registers(64));
  CHECK(b.batches_seen.size() == 1);
  // Where every read costs the same, each vCPU's ZCR_EL1 alone, when asked.
  CountingBackend plain(cfg);
  auto u = make(plain);
  plain.reset_counts();
  CHECK(u->thread_extra_info(5) == "vCPU 4, VL 2048 bits");
  CHECK(plain.single == 1);
  CHECK(plain.batches_seen.empty());
}

TEST_CASE("GuestTarget: where each read costs the same, a p reads just that register", "[batch]") {
  CountingBackend b;  // batches_reads() false, like the in-process and simulated backends
  auto t = make(b);
  b.reset_counts();
  REQUIRE(t->read_register(1, kZ0 + 5));
  CHECK(b.batches_seen.empty());
  CHECK(b.single == 2);  // ZCR_EL1 and z5
}

TEST_CASE("a snapshot reads a vCPU's registers in one batch with the same values", "[batch]") {
  CountingBackend b;
  SimBackend plain(SimConfig{});
  for (unsigned v = 0; v < 4; ++v) {
    b.reset_counts();
    auto s = introspect::take_snapshot(b, v);
    REQUIRE(s);
    CHECK(b.single == 1);  // SVE_VLS
    REQUIRE(b.batches_seen.size() == 1);
    CHECK(b.batches_seen[0].size() ==
          99);  // ZCR_EL1, 31 x, sp, pc, pstate, fpsr, fpcr, 32 Z, 16 P, FFR, 13 more system
    auto ref = introspect::take_snapshot(plain, v);
    REQUIRE(ref);
    CHECK(s->x == ref->x);
    CHECK(s->pc == ref->pc);
    CHECK(s->effective_vq == ref->effective_vq);
    CHECK(s->z == ref->z);
    CHECK(s->p == ref->p);
    CHECK(s->ffr == ref->ffr);
    REQUIRE(s->sysregs.size() == ref->sysregs.size());
    for (std::size_t i = 0; i < s->sysregs.size(); ++i) CHECK(s->sysregs[i].value == ref->sysregs[i].value);
  }
  // A failing core register still fails the snapshot, naming it.
  b.fail = kvm::core_x(3);
  auto bad = introspect::take_snapshot(b, 0);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("fails"));
}

TEST_CASE("batch plan: entries, kvm_one_reg pointers and value slots from the table address", "[batch]") {
  using namespace kvm::batch;
  const std::uint64_t base = 0x7f0000000000;
  std::vector<Call> calls{
      {11, kvm::core_x(0), 8}, {11, kvm::sve_zreg(1), 256}, {12, kvm::core_fpsr(), 4}, {12, kvm::sve_preg(2), 32}};
  const Plan p = plan(base, kMaxTableBytes, calls);
  REQUIRE(p.count == 4);
  CHECK(p.table == base);
  REQUIRE(p.table_bytes.size() == 4 * kEntryBytes);
  std::uint64_t value = 4 * kEntryBytes;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t e = i * kEntryBytes;
    CHECK(u64_at(p.table_bytes, e + 0) == static_cast<std::uint64_t>(calls[i].fd));
    CHECK(u64_at(p.table_bytes, e + 8) == kKvmGetOneReg);
    CHECK(u64_at(p.table_bytes, e + 16) == p.table + e + 32);  // &entry.id: struct kvm_one_reg
    CHECK(static_cast<std::int64_t>(u64_at(p.table_bytes, e + 24)) == kNotRun);
    CHECK(u64_at(p.table_bytes, e + 32) == calls[i].id);
    CHECK(u64_at(p.table_bytes, e + 40) == p.table + value);
    CHECK(p.value_offset[i] == value);
    CHECK(value % 8 == 0);
    value += (calls[i].size + 7) / 8 * 8;
  }
  CHECK(p.read_bytes == value);
  CHECK(p.read_bytes <= kMaxTableBytes);
  CHECK(plan(base, p.read_bytes, calls).count == 4);      // exactly enough room
  CHECK(plan(base, p.read_bytes - 1, calls).count == 3);  // one byte less: the last waits

  // After the trip: results and values as the VMM left them.
  std::vector<std::byte> back(p.read_bytes);
  std::memcpy(back.data(), p.table_bytes.data(), p.table_bytes.size());
  const std::int64_t results[] = {0, 0, -22, kNotRun};
  for (std::size_t i = 0; i < 4; ++i) std::memcpy(back.data() + i * kEntryBytes + 24, &results[i], 8);
  back[p.value_offset[1] + 255] = std::byte{0xab};
  CHECK(result_of(back, 0) == 0);
  CHECK(result_of(back, 2) == -22);
  CHECK(result_of(back, 3) == kNotRun);
  auto z = value_of(p, back, 1);
  REQUIRE(z.size() == 256);
  CHECK(std::to_integer<unsigned>(z[255]) == 0xab);
  CHECK(value_of(p, back, 2).size() == 4);
  CHECK(value_of(p, back, 4).empty());
}

TEST_CASE("batch plan: what does not fit goes to the next trip", "[batch]") {
  using namespace kvm::batch;
  std::vector<Call> calls(300, Call{5, kvm::sve_zreg(0), 256});  // 300 x (48 + 256) bytes > 64 KiB
  const Plan first = plan(0x10000, kMaxTableBytes, calls);
  CHECK(first.count == kMaxTableBytes / (kEntryBytes + 256));
  CHECK(first.read_bytes <= kMaxTableBytes);
  const Plan rest = plan(0x10000, kMaxTableBytes, std::span(calls).subspan(first.count));
  CHECK(rest.count == 300 - first.count);
  CHECK(plan(0x10000, 100, calls).count == 0);  // not even one fits
  CHECK(plan(0x10000, kMaxTableBytes, {}).count == 0);
}

TEST_CASE("batch loop code: little-endian words, ending in brk at kBrkOffset", "[batch]") {
  using namespace kvm::batch;
  const auto code = code_bytes();
  CHECK(code.size() == 40);
  CHECK(std::to_integer<unsigned>(code[0]) == (kLoopTest & 0xff));
  CHECK(std::to_integer<unsigned>(code[3]) == (kLoopTest >> 24));
  std::uint32_t brk = 0;
  std::memcpy(&brk, code.data() + kBrkOffset, 4);
  CHECK(brk == 0xd4200000);
  CHECK(kLoopCode[4] == 0xd4000001);  // svc #0
}

TEST_CASE("batch results: a failed ioctl fails its register only, naming it and the errno", "[batch]") {
  using namespace kvm::batch;
  CHECK(status_of(0, 1, kvm::sve_zreg(3)));
  auto perm = status_of(-EPERM, 1, kvm::sve_zreg(3));
  REQUIRE_FALSE(perm);
  CHECK(perm.error().code == EPERM);
  CHECK(perm.error().message == kvm::one_reg_error(1, kvm::sve_zreg(3), false, EPERM).message);
  CHECK_THAT(perm.error().message, Catch::Contains("vCPU 1"));
  CHECK_THAT(perm.error().message, Catch::Contains(kvm::reg_name(kvm::sve_zreg(3))));
  auto missing = status_of(kNotRun, 0, kvm::core_pc());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == EIO);
  CHECK_THAT(missing.error().message, Catch::Contains(kvm::reg_name(kvm::core_pc())));
}

TEST_CASE("GuestTarget: translating gdb's addresses reads the four translation registers at once", "[batch]") {
  CountingBackend b;
  auto t = make(b);
  b.reset_counts();
  REQUIRE(t->read_memory(1, 0x40000000, 4));
  CHECK(b.single == 0);
  REQUIRE(b.batches_seen.size() == 1);
  CHECK(b.batches_seen[0] ==
        std::vector<std::uint64_t>{kvm::sctlr_el1(), kvm::tcr_el1(), kvm::ttbr0_el1(), kvm::ttbr1_el1()});
  REQUIRE(t->read_memory(1, 0x40000100, 4));
  CHECK(b.batches_seen.size() == 1);

  // Where batches are cheap they come with the stop's registers, as gdb
  // reads the memory at pc after every stop.
  b.batches = true;
  gdbstub::ResumeAction step{gdbstub::ResumeKind::Step, 1};
  REQUIRE(t->resume(std::span(&step, 1)));
  REQUIRE(t->poll_stop());
  // (batch 1: step-irq's pc and PSTATE before the step)
  REQUIRE(b.batches_seen.size() == 3);
  CHECK(b.batches_seen[1] == std::vector<std::uint64_t>{kvm::core_pc(), kvm::core_pstate()});
  CHECK(b.batches_seen[2].size() == 10);  // x29, pc, PSTATE, SP_EL0, SP_EL1, ZCR_EL1 and the four
  REQUIRE(t->read_memory(1, 0x40000000, 4));
  for (unsigned r : t->expedited_registers(1)) REQUIRE(t->read_register(1, r));
  CHECK(b.batches_seen.size() == 3);
  CHECK(b.single == 0);
  // Not in `monitor phys on` mode, which needs no translation.
  REQUIRE(t->monitor("phys on"));
  REQUIRE(t->resume(std::span(&step, 1)));
  REQUIRE(t->poll_stop());
  // (step-irq's pc and PSTATE came with the previous stop: no batch of its own)
  REQUIRE(b.batches_seen.size() == 4);
  CHECK(b.batches_seen[3].size() == 6);  // x29, pc, PSTATE, SP_EL0, SP_EL1, ZCR_EL1
}
