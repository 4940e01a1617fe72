// GuestTarget over the simulated guest: the register map, the per-stop
// cache, the description modes and the KVM error paths as gdb sees them;
// over a fake backend for what --read-only lets backend monitor commands do.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;
using introspect::GuestTarget;
using introspect::SimBackend;
using introspect::SimConfig;
using introspect::TdescVl;

namespace {

constexpr unsigned kZ0 = 34, kP0 = 68, kFfr = 84, kVg = 85, kV0 = 34;

std::unique_ptr<GuestTarget> make(SimBackend& sim, TdescVl mode = {}) {
  auto t = GuestTarget::create(sim, {mode});
  REQUIRE(t);
  REQUIRE(t.value()->attach());
  return std::move(t).value();
}

// A one-vCPU guest (no SVE, no memory) with two monitor commands: `fake
// stats` only reports and `fake poke` changes the guest, like the attach
// backend's `monitor attach` beside the simulated guest's `sim set-vl`.
class MonitorBackend final : public kvm::Backend {
 public:
  std::string name() const override { return "fake"; }
  unsigned vcpu_count() const override { return 1; }
  Status get_one_reg(unsigned, std::uint64_t, std::span<std::byte>) override {
    return make_error(ENOENT, "no such register");
  }
  Status set_one_reg(unsigned, std::uint64_t, std::span<const std::byte>) override {
    return make_error(ENOENT, "no such register");
  }
  Result<std::size_t> read_phys(std::uint64_t, std::span<std::byte>) override { return make_error(EFAULT, "no RAM"); }
  Result<std::size_t> write_phys(std::uint64_t, std::span<const std::byte>) override {
    return make_error(EFAULT, "no RAM");
  }
  void add_monitor_commands(MonitorRegistry& registry) override {
    for (const char* name : {"fake stats", "fake poke"})
      registry.add({name, "", "a fake command", std::string_view(name) != "fake stats",
                    [this, name](std::string_view) -> Result<std::string> {
                      ran.emplace_back(name);
                      return std::string(name) + ": done\n";
                    }});
  }
  svedbg::Detached detach() override { return svedbg::Detached::Resumed; }

  std::vector<std::string> ran;  // the monitor commands run, in order
};

std::uint64_t u64(const gdbstub::Bytes& b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < b.size(); ++i) v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
  return v;
}

}  // namespace

TEST_CASE("each register is fetched at most once per stop, only on demand", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  const auto before = t->cache().fetches();
  REQUIRE(t->read_register(1, kZ0 + 5));
  const auto after_first = t->cache().fetches();
  CHECK(after_first > before);  // ZCR_EL1 and z5 of vCPU 0
  REQUIRE(t->read_register(1, kZ0 + 5));
  REQUIRE(t->read_register(1, kVg));
  CHECK(t->cache().fetches() == after_first);
  // The whole g block touches each remaining register once, and only vCPU 0.
  REQUIRE(t->read_all_registers(1));
  const auto after_g = t->cache().fetches();
  REQUIRE(t->read_all_registers(1));
  CHECK(t->cache().fetches() == after_g);
  // A step is a new stop: values are fetched again.
  gdbstub::ResumeAction step{gdbstub::ResumeKind::Step, 1};
  REQUIRE(t->resume(std::span(&step, 1)));
  REQUIRE(t->poll_stop());
  REQUIRE(t->read_register(1, kZ0 + 5));
  CHECK(t->cache().fetches() > after_g);
}

TEST_CASE("default description uses the largest enabled VL and vg is each vCPU effective VL", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  CHECK(t->description_sve());
  CHECK(t->description_vq() == 16);
  const unsigned eff[] = {16, 4, 1, 2};
  for (unsigned c = 0; c < 4; ++c) {
    auto vg = t->read_register(c + 1, kVg);
    REQUIRE(vg);
    CHECK(u64(*vg) == 2u * eff[c]);
    auto z = t->read_register(c + 1, kZ0 + 7);
    REQUIRE(z);
    REQUIRE(z->size() == 256);
    for (unsigned b = 0; b < 256; ++b) {
      const unsigned want = b < 16 * eff[c] ? SimBackend::fixture_z_byte(c, 7, b) : 0;
      if (std::to_integer<unsigned>((*z)[b]) != want) FAIL("vCPU " << c << " z7 byte " << b);
    }
    auto p = t->read_register(c + 1, kP0 + 2);
    REQUIRE(p);
    REQUIRE(p->size() == 32);
    for (unsigned b = 0; b < 32; ++b) {
      const unsigned want = b < 2 * eff[c] ? SimBackend::fixture_p_byte(c, 2, b) : 0;
      if (std::to_integer<unsigned>((*p)[b]) != want) FAIL("vCPU " << c << " p2 byte " << b);
    }
    auto ffr = t->read_register(c + 1, kFfr);
    REQUIRE(ffr);
    CHECK(std::to_integer<unsigned>((*ffr)[2 * eff[c] - 1]) == 0xff);
    if (2 * eff[c] < 32) CHECK(std::to_integer<unsigned>((*ffr)[2 * eff[c]]) == 0);
  }
  CHECK(t->thread_extra_info(2) == "vCPU 1, VL 512 bits");
}

TEST_CASE("tdesc-vl BITS must be a VL the guest has and larger vectors are cut to it", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim, TdescVl{TdescVl::Mode::Fixed, 3});  // 384 bits: enabled (vq 1..16)
  CHECK(t->description_vq() == 3);
  auto z = t->read_register(1, kZ0);  // vCPU 0 runs at 2048 bits
  REQUIRE(z);
  CHECK(z->size() == 48);
  CHECK(std::to_integer<unsigned>((*z)[47]) == SimBackend::fixture_z_byte(0, 0, 47));
  auto xml = t->features_document("target.xml");
  REQUIRE(xml);
  CHECK(xml->find("name=\"z0\" bitsize=\"384\"") != std::string::npos);

  SimConfig small;
  small.max_vq = 2;
  SimBackend sim2(small);
  auto bad = GuestTarget::create(sim2, {TdescVl{TdescVl::Mode::Fixed, 3}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EINVAL);
  CHECK(bad.error().message.find("no vCPU has that vector length enabled") != std::string::npos);
}

TEST_CASE("tdesc-vl effective sizes each thread by its own VL", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim, TdescVl{TdescVl::Mode::Effective, 0});
  CHECK(t->read_register(2, kZ0)->size() == 64);
  CHECK(t->read_register(3, kZ0)->size() == 16);
  CHECK(t->read_register(3, kP0)->size() == 2);
  CHECK(t->read_all_registers(4)->size() == xml::g_packet_size(true, 2));
}

TEST_CASE("tdesc-vl effective: a gdb client is served the max description, lldb its own VLs", "[target]") {
  SimBackend sim(SimConfig{});
  std::vector<std::string> logged;
  introspect::GuestOptions opts{TdescVl{TdescVl::Mode::Effective, 0}};
  opts.log = [&logged](const std::string& m) { logged.push_back(m); };
  auto t = GuestTarget::create(sim, opts);
  REQUIRE(t);
  GuestTarget& g = **t;
  // gdb 13.1's qSupported features; lldb 14's.
  const std::vector<std::string> gdb13{"multiprocess+",  "swbreak+",      "hwbreak+",        "qRelocInsn+",
                                       "fork-events+",   "vfork-events+", "exec-events+",    "vContSupported+",
                                       "QThreadEvents+", "no-resumed+",   "memory-tagging+", "xmlRegisters=i386"};
  const std::vector<std::string> lldb14{"xmlRegisters=i386,arm,mips,arc", "multiprocess+", "fork-events+",
                                        "vfork-events+"};
  REQUIRE(g.attach());
  g.client_features(gdb13);
  CHECK(g.read_register(3, kZ0)->size() == 256);
  CHECK(g.read_all_registers(3)->size() == xml::g_packet_size(true, 16));
  CHECK(g.features_document("target.xml")->find("bitsize=\"2048\"") != std::string::npos);
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].find("qRelocInsn+") != std::string::npos);
  CHECK(g.monitor("vls")->find("note: --tdesc-vl effective is for lldb") != std::string::npos);

  // The next client is lldb: effective again, no note.
  REQUIRE(g.attach());
  g.client_features(lldb14);
  CHECK(g.features_document("target.xml")->find("bitsize=\"2048\"") != std::string::npos);  // thread 1: VL 2048
  CHECK(g.read_register(3, kZ0)->size() == 16);
  CHECK(g.read_register(2, kZ0)->size() == 64);
  CHECK(g.monitor("vls")->find("note:") == std::string::npos);
  CHECK(logged.size() == 1);
}

TEST_CASE("parse_tdesc_vl", "[target]") {
  CHECK(introspect::parse_tdesc_vl("max")->mode == TdescVl::Mode::Max);
  CHECK(introspect::parse_tdesc_vl("effective")->mode == TdescVl::Mode::Effective);
  CHECK(introspect::parse_tdesc_vl("512")->vq == 4);
  CHECK_FALSE(introspect::parse_tdesc_vl("500"));
  CHECK_FALSE(introspect::parse_tdesc_vl("4096"));
  CHECK_FALSE(introspect::parse_tdesc_vl("0"));
  CHECK_FALSE(introspect::parse_tdesc_vl("-128"));
  CHECK_FALSE(introspect::parse_tdesc_vl(""));
}

TEST_CASE("a VLS that is not a power-of-two series: effective VL clamps down", "[target]") {
  SimConfig cfg;
  cfg.vcpus = 1;
  cfg.vls = {};
  for (unsigned vq : {1u, 2u, 3u, 4u, 8u}) cfg.vls.set(vq);
  cfg.max_vq = 8;
  cfg.effective_vq = {6};  // the guest asks for 768 bits: 512 is the largest enabled below
  SimBackend sim(cfg);
  auto t = make(sim);
  CHECK(t->description_vq() == 8);
  CHECK(u64(*t->read_register(1, kVg)) == 8);
  CHECK(t->thread_extra_info(1) == "vCPU 0, VL 512 bits");
  auto vls = t->monitor("vls");
  REQUIRE(vls);
  CHECK_THAT(*vls, Catch::Contains("vCPU 0: enabled VLs 128-512,1024 bits; max 1024 bits; effective VL 512 bits"));
}

TEST_CASE("target: vCPUs without SVE", "[target]") {
  SECTION("mixed: the SVE description, the V view for the FPSIMD vCPU") {
    SimConfig cfg;
    cfg.vcpus = 2;
    cfg.sve = {true, false};
    SimBackend sim(cfg);
    auto t = make(sim);
    CHECK(t->description_sve());
    CHECK(t->thread_extra_info(2) == "vCPU 1, no SVE");
    auto z = t->read_register(2, kZ0 + 1);
    REQUIRE(z);
    CHECK(std::to_integer<unsigned>((*z)[15]) == SimBackend::fixture_z_byte(1, 1, 15));
    CHECK(std::to_integer<unsigned>((*z)[16]) == 0);
    CHECK(u64(*t->read_register(2, kVg)) == 2);
    auto p = t->read_register(2, kP0);
    REQUIRE(p);
    CHECK(std::all_of(p->begin(), p->end(), [](std::byte b) { return b == std::byte{0}; }));
    CHECK(t->monitor("vls")->find("vCPU 1: no SVE") != std::string::npos);
  }
  SECTION("no SVE at all: the fpu feature, V registers") {
    SimConfig cfg;
    cfg.vcpus = 2;
    cfg.sve = {false};
    SimBackend sim(cfg);
    auto t = make(sim);
    CHECK_FALSE(t->description_sve());
    auto xml = t->features_document("target.xml");
    REQUIRE(xml);
    CHECK(xml->find("org.gnu.gdb.aarch64.fpu") != std::string::npos);
    CHECK(xml->find("org.gnu.gdb.aarch64.sve") == std::string::npos);
    auto v3 = t->read_register(2, kV0 + 3);
    REQUIRE(v3);
    REQUIRE(v3->size() == 16);
    CHECK(std::to_integer<unsigned>((*v3)[5]) == SimBackend::fixture_z_byte(1, 3, 5));
    CHECK(u64(*t->read_register(1, 68)) == 0x30d00800);  // sctlr_el1 follows fpcr: no p0 here
    CHECK_FALSE(t->read_register(1, 68 + xml::kSysRegCount - 1));
    CHECK(t->expedited_registers(1) == std::vector<unsigned>{29, 31, 32});
  }
}

TEST_CASE("writes: merged at the effective VL, vg read-only, unchanged values not written", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  gdbstub::Bytes z(256, std::byte{0});
  std::fill_n(z.begin(), 64, std::byte{0xaa});
  REQUIRE(t->write_register(2, kZ0, z));  // vCPU 1 runs at 512 bits
  auto back = t->read_register(2, kZ0);
  REQUIRE(back);
  CHECK(std::to_integer<unsigned>((*back)[63]) == 0xaa);
  CHECK(std::to_integer<unsigned>((*back)[64]) == 0);  // above the VL: not reachable
  // KVM's own container agrees.
  gdbstub::Bytes raw(256);
  REQUIRE(sim.get_one_reg(1, kvm::sve_zreg(0), raw));
  CHECK(std::to_integer<unsigned>(raw[64]) == 0);
  auto vg8 = gdbstub::Bytes{std::byte{8}, {}, {}, {}, {}, {}, {}, {}};
  CHECK(t->write_register(2, kVg, vg8));  // its own value: accepted
  auto vg4 = gdbstub::Bytes{std::byte{4}, {}, {}, {}, {}, {}, {}, {}};
  auto st = t->write_register(2, kVg, vg4);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == EPERM);
  CHECK_FALSE(t->write_register(2, kZ0, gdbstub::Bytes(10)));  // wrong size
  // G with the block read from g changes nothing and succeeds.
  auto g = t->read_all_registers(3);
  REQUIRE(g);
  REQUIRE(t->write_all_registers(3, *g));
  CHECK_FALSE(t->write_all_registers(3, gdbstub::Bytes(g->size() - 1)));
}

TEST_CASE("KVM errors reach gdb with their errno: not finalized, MMU on, bad thread", "[target]") {
  SECTION("SVE not finalized: EPERM from KVM") {
    SimBackend sim(SimConfig{}, /*setup=*/false);
    auto t = make(sim);
    auto z = t->read_register(1, kZ0);
    REQUIRE_FALSE(z);
    CHECK(z.error().code == EPERM);
    CHECK(z.error().message.find("not finalized") != std::string::npos);
    CHECK(t->read_register(1, 0));  // core registers are fine
  }
  SECTION("MMU on with no valid tables: an error, not a misread") {
    SimBackend sim(SimConfig{});
    gdbstub::Bytes sctlr(8);
    REQUIRE(sim.get_one_reg(0, kvm::sctlr_el1(), sctlr));
    sctlr[0] |= std::byte{1};
    REQUIRE(sim.set_one_reg(0, kvm::sctlr_el1(), sctlr));
    auto t = make(sim);
    auto m = t->read_memory(1, 0x40000000, 4);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == EFAULT);
    CHECK(t->read_memory(2, 0x40000000, 4));  // vCPU 1 still has the MMU off
  }
  SECTION("threads that don't exist") {
    SimBackend sim(SimConfig{});
    auto t = make(sim);
    CHECK_FALSE(t->thread_alive(0));
    CHECK_FALSE(t->thread_alive(5));
    CHECK(t->read_register(5, 0).error().code == ESRCH);
    CHECK(t->read_register(1, 86 + xml::kSysRegCount).error().code == ENOENT);
  }
}

TEST_CASE("monitor: help, vls, sim commands, unknown", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  CHECK(t->monitor("help")->find("monitor vls") != std::string::npos);
  CHECK(t->monitor("sim set-vl 3 1024")->find("vCPU 3: VL 1024 bits") != std::string::npos);
  CHECK(u64(*t->read_register(4, kVg)) == 16);  // cache refreshed after the command
  auto bad = t->monitor("frobnicate");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("unknown monitor command 'frobnicate'") != std::string::npos);
}

TEST_CASE("read-only mode runs backend monitor commands that leave the guest alone, refuses the others", "[target]") {
  MonitorBackend fake;
  auto made = GuestTarget::create(fake, {TdescVl{}, false, /*read_only=*/true});
  REQUIRE(made);
  auto& t = **made;
  REQUIRE(t.attach());
  const auto stats = t.monitor("fake stats");
  INFO((stats ? *stats : stats.error().message));
  REQUIRE(stats);
  CHECK(*stats == "fake stats: done\n");
  const auto poke = t.monitor("fake poke");
  REQUIRE_FALSE(poke);
  CHECK(poke.error().code == EROFS);
  CHECK(poke.error().message == "'fake poke' not run: svedbg runs --read-only");
  CHECK(fake.ran == std::vector<std::string>{"fake stats"});
}

TEST_CASE("read-only mode over the simulated guest: sim commands refused, unknown ones reported unknown", "[target]") {
  SimBackend sim(SimConfig{});
  auto made = GuestTarget::create(sim, {TdescVl{}, false, /*read_only=*/true});
  REQUIRE(made);
  auto& t = **made;
  REQUIRE(t.attach());
  const auto set_vl = t.monitor("sim set-vl 0 256");
  REQUIRE_FALSE(set_vl);
  CHECK(set_vl.error().code == EROFS);
  const auto bogus = t.monitor("bogus 1");
  REQUIRE_FALSE(bogus);
  CHECK(bogus.error().code == EINVAL);
  CHECK_THAT(bogus.error().message, Catch::Contains("unknown monitor command 'bogus 1'"));
  CHECK(t.monitor("phys"));  // svedbg's own queries run
}

TEST_CASE("system registers are served read-only unless writes are allowed", "[target]") {
  constexpr unsigned kZcr = 86, kSctlr = 87, kElr = 95, kMidr = 98, kMpidr = 99;
  SimBackend sim(SimConfig{});
  {
    auto t = make(sim);
    CHECK(u64(*t->read_register(2, kZcr)) == 3);  // vCPU 1: VL 512 -> LEN 3
    CHECK(u64(*t->read_register(2, kSctlr)) == 0x30d00800);
    CHECK(u64(*t->read_register(2, kMpidr)) == 0x80000001);
    CHECK(u64(*t->read_register(1, kMidr)) == 0x410fd4f0);
    CHECK(u64(*t->read_register(1, kElr)) == 0);
    gdbstub::Bytes one{std::byte{1}, {}, {}, {}, {}, {}, {}, {}};
    auto st = t->write_register(1, kSctlr, one);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EPERM);
    CHECK_THAT(st.error().message, Catch::Contains("--allow-sysreg-writes"));
    // Writing back the current value (as a G packet does) is not a change.
    CHECK(t->write_register(1, kSctlr, *t->read_register(1, kSctlr)));
  }
  auto t = GuestTarget::create(sim, {TdescVl{}, /*allow_sysreg_writes=*/true});
  REQUIRE(t);
  REQUIRE(t.value()->attach());
  gdbstub::Bytes vbar{std::byte{0}, std::byte{0x08}, {}, {}, {}, {}, {}, {}};
  REQUIRE(t.value()->write_register(3, 86 + 6, vbar));  // vbar_el1 of vCPU 2
  gdbstub::Bytes raw(8);
  REQUIRE(sim.get_one_reg(2, kvm::vbar_el1(), raw));
  CHECK(u64(raw) == 0x800);
}

TEST_CASE("a write above the effective VL is refused, naming the vCPU, register and VL; zeros there pass", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);  // description at 2048 bits; vCPU 2 (thread 3) runs at 128
  const auto before = *t->read_register(3, kZ0);
  REQUIRE(before.size() == 256);
  // set $z0.d.u[5] = 0xdeadbeef: lane 5 is bytes 40..47, above 16.
  auto z = before;
  z[40] = std::byte{0xef};
  auto st = t->write_register(3, kZ0, z);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ERANGE);
  CHECK(st.error().message.find("vCPU 2: z0 not written: its effective VL is 128 bits") != std::string::npos);
  CHECK(*t->read_register(3, kZ0) == before);
  // set $z0.d.u[0] = 0xdeadbeef: gdb sends the whole register, zeros above.
  z = before;
  z[40] = std::byte{0};
  z[0] = std::byte{0xef};
  REQUIRE(t->write_register(3, kZ0, z));
  CHECK((*t->read_register(3, kZ0))[0] == std::byte{0xef});
  // P and FFR: 2 bytes reachable at 128 bits.
  gdbstub::Bytes p(32, std::byte{0});
  p[2] = std::byte{1};
  st = t->write_register(3, kP0 + 3, p);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("vCPU 2: p3 not written: its effective VL is 128 bits") != std::string::npos);
  st = t->write_register(3, kFfr, p);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("vCPU 2: ffr not written") != std::string::npos);
  p[2] = std::byte{0};
  p[1] = std::byte{0x80};
  CHECK(t->write_register(3, kFfr, p));
  // After the guest raises its VL to 512 bits, lane 5 is reachable.
  REQUIRE(t->monitor("sim set-vl 2 512"));
  z = *t->read_register(3, kZ0);
  z[40] = std::byte{0xef};
  REQUIRE(t->write_register(3, kZ0, z));
  CHECK((*t->read_register(3, kZ0))[40] == std::byte{0xef});
}

TEST_CASE("SVE registers may also be written at the thread's effective VL", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);  // description at 2048 bits; vCPU 2 runs at 128
  gdbstub::Bytes p(2, std::byte{0x5a});
  REQUIRE(t->write_register(3, kP0 + 1, p));
  auto back = t->read_register(3, kP0 + 1);
  REQUIRE(back);
  CHECK(back->size() == 32);
  CHECK(std::to_integer<unsigned>((*back)[1]) == 0x5a);
  CHECK(std::to_integer<unsigned>((*back)[2]) == 0);
  CHECK_FALSE(t->write_register(3, kP0 + 1, gdbstub::Bytes(3)));
}

namespace {
void put_u64(SimBackend& sim, std::uint64_t pa, std::uint64_t v) {
  gdbstub::Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = std::byte((v >> (8 * i)) & 0xff);
  REQUIRE(sim.write_phys(pa, b));
}
void set_sys(SimBackend& sim, unsigned vcpu, std::uint64_t id, std::uint64_t v) {
  gdbstub::Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = std::byte((v >> (8 * i)) & 0xff);
  REQUIRE(sim.set_one_reg(vcpu, id, b));
}
}  // namespace

TEST_CASE("memory by virtual address through the vCPU's page tables", "[target]") {
  SimBackend sim(SimConfig{});
  // vCPU 0: 4K granule, T0SZ = 25 (39-bit VA, walk starts at level 1),
  // TTBR1 walks disabled (EPD1). VA 0x80000000: L1 index 2 -> L2 table,
  // L2 index 0 -> L3 table, L3 index 1 -> the page at PA 0x40001000.
  constexpr std::uint64_t l1 = 0x40010000, l2 = 0x40011000, l3 = 0x40012000;
  put_u64(sim, l1 + 2 * 8, l2 | 0b11);
  put_u64(sim, l2 + 0 * 8, l3 | 0b11);
  put_u64(sim, l3 + 1 * 8, 0x40001000 | (1u << 10) | 0b11);  // page, AF
  set_sys(sim, 0, kvm::tcr_el1(), 25 | (1u << 23) | (std::uint64_t{0b010} << 32));
  set_sys(sim, 0, kvm::ttbr0_el1(), l1);
  set_sys(sim, 0, kvm::sctlr_el1(), SimBackend::kSctlrReset | 1);
  auto t = make(sim);
  auto m = t->read_memory(1, 0x80001004, 4);
  REQUIRE(m);
  for (unsigned i = 0; i < 4; ++i) CHECK(std::to_integer<unsigned>((*m)[i]) == (0x1004 + i) % 251);
  // A read running off the mapped page is partial, not an error.
  auto tail = t->read_memory(1, 0x80001ffe, 4);
  REQUIRE(tail);
  CHECK(tail->size() == 2);
  CHECK_FALSE(t->read_memory(1, 0x80003000, 4));  // unmapped
  // Writes go to the translated address.
  gdbstub::Bytes two{std::byte{0xab}, std::byte{0xcd}};
  REQUIRE(t->write_memory(1, 0x80001100, two));
  gdbstub::Bytes phys(2);
  REQUIRE(sim.read_phys(0x40001100, phys));
  CHECK(phys == two);
  // monitor translate shows the walk; monitor phys switches to physical.
  auto walk = t->monitor("translate 0x80001004");
  REQUIRE(walk);
  CHECK_THAT(*walk, Catch::Contains("=> PA 0x40001004"));
  auto bad = t->monitor("translate 0x80003000");
  REQUIRE(bad);
  CHECK_THAT(*bad, Catch::Contains("invalid"));
  REQUIRE(t->monitor("phys on"));
  auto p = t->read_memory(1, 0x40001004, 1);
  REQUIRE(p);
  CHECK(std::to_integer<unsigned>((*p)[0]) == 0x1004 % 251);
  REQUIRE(t->monitor("phys off"));
  CHECK_FALSE(t->read_memory(1, 0x40001004, 1));  // not mapped by vCPU 0's tables
}

TEST_CASE("a memory write that does not fit writes nothing: end of RAM, an unmapped page", "[target]") {
  SimBackend sim(SimConfig{});
  const gdbstub::Bytes four{std::byte{0x11}, std::byte{0x22}, std::byte{0x33}, std::byte{0x44}};
  const auto phys = [&sim](std::uint64_t pa, std::size_t n) {
    gdbstub::Bytes b(n);
    REQUIRE(sim.read_phys(pa, b));
    return b;
  };
  SECTION("physical: past the end of RAM (0x40000000..0x400fffff)") {
    auto t = make(sim);
    const auto before = phys(0x400ffffe, 2);
    auto st = t->write_memory(1, 0x400ffffe, four);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EFAULT);
    CHECK(phys(0x400ffffe, 2) == before);
    CHECK_FALSE(t->write_memory(1, ~std::uint64_t{0}, four));  // wraps the address space
    REQUIRE(t->write_memory(1, 0x400ffffc, four));             // the last 4 bytes: fits
    CHECK(phys(0x400ffffc, 4) == four);
  }
  SECTION("virtual: across a mapped page into an unmapped one") {
    // vCPU 0, 4K granule, 39-bit VA: VA 0x80001000 -> PA 0x40001000,
    // VA 0x80002000 unmapped, VA 0x80003000 -> PA 0x40003000.
    constexpr std::uint64_t l1 = 0x40010000, l2 = 0x40011000, l3 = 0x40012000;
    put_u64(sim, l1 + 2 * 8, l2 | 0b11);
    put_u64(sim, l2 + 0 * 8, l3 | 0b11);
    put_u64(sim, l3 + 1 * 8, 0x40001000 | (1u << 10) | 0b11);
    put_u64(sim, l3 + 3 * 8, 0x40003000 | (1u << 10) | 0b11);
    put_u64(sim, l3 + 4 * 8, 0x40005000 | (1u << 10) | 0b11);
    set_sys(sim, 0, kvm::tcr_el1(), 25 | (1u << 23) | (std::uint64_t{0b010} << 32));
    set_sys(sim, 0, kvm::ttbr0_el1(), l1);
    set_sys(sim, 0, kvm::sctlr_el1(), SimBackend::kSctlrReset | 1);
    auto t = make(sim);
    const auto before = phys(0x40001ffe, 2);
    auto st = t->write_memory(1, 0x80001ffe, four);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EFAULT);
    CHECK(phys(0x40001ffe, 2) == before);
    // Two mapped pages, not physically adjacent: both halves written.
    REQUIRE(t->write_memory(1, 0x80003ffe, four));
    CHECK(phys(0x40003ffe, 2) == gdbstub::Bytes{std::byte{0x11}, std::byte{0x22}});
    CHECK(phys(0x40005000, 2) == gdbstub::Bytes{std::byte{0x33}, std::byte{0x44}});
  }
}

namespace {
// Byte offset of register `regnum` in thread `tid`'s g block.
std::size_t g_offset(GuestTarget& t, gdbstub::ThreadId tid, unsigned regnum) {
  std::size_t off = 0;
  for (unsigned r = 0; r < regnum; ++r) off += t.read_register(tid, r)->size();
  return off;
}
void put_le64(gdbstub::Bytes& block, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) block[off + i] = std::byte((v >> (8 * i)) & 0xff);
}
}  // namespace

TEST_CASE("a G packet is all or nothing: a refused register leaves every other one as it was", "[target]") {
  constexpr unsigned kSctlr = 87, kMidr = 98;
  SimBackend sim(SimConfig{});
  const auto x0_of = [&sim](unsigned vcpu) {
    gdbstub::Bytes raw(8);
    REQUIRE(sim.get_one_reg(vcpu, kvm::core_x(0), raw));
    return u64(raw);
  };
  SECTION("refused by svedbg: a system register without --allow-sysreg-writes") {
    auto t = make(sim);
    auto g = t->read_all_registers(2);
    REQUIRE(g);
    put_le64(*g, 0, 0x1122334455667788);  // x0
    put_le64(*g, g_offset(*t, 2, kSctlr), SimBackend::kSctlrReset | 1);
    auto st = t->write_all_registers(2, *g);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EPERM);
    CHECK(x0_of(1) == 0x1000);
    CHECK(u64(*t->read_register(2, 0)) == 0x1000);
  }
  SECTION("refused by the backend: MIDR_EL1 is invariant (EINVAL from KVM)") {
    auto t = GuestTarget::create(sim, {TdescVl{}, /*allow_sysreg_writes=*/true});
    REQUIRE(t);
    REQUIRE(t.value()->attach());
    auto& target = **t;
    auto g = target.read_all_registers(2);
    REQUIRE(g);
    put_le64(*g, 0, 0x1122334455667788);  // x0, written first
    put_le64(*g, g_offset(target, 2, kMidr), 0x12345678);
    auto st = target.write_all_registers(2, *g);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EINVAL);
    CHECK(x0_of(1) == 0x1000);
    CHECK(u64(*target.read_register(2, 0)) == 0x1000);
    // Without the refused register the same block goes through.
    put_le64(*g, g_offset(target, 2, kMidr), SimBackend::kMidr);
    REQUIRE(target.write_all_registers(2, *g));
    CHECK(x0_of(1) == 0x1122334455667788);
  }
}

TEST_CASE("a vCPU without SVE under an SVE description: z above its 128-bit V register is refused", "[target]") {
  SimConfig cfg;
  cfg.vcpus = 2;
  cfg.sve = {true, false};
  SimBackend sim(cfg);
  auto t = make(sim);
  auto z = *t->read_register(2, kZ0 + 1);
  REQUIRE(z.size() == 256);
  z[16] = std::byte{1};
  auto st = t->write_register(2, kZ0 + 1, z);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ERANGE);
  CHECK(st.error().message.find("vCPU 1: z1 not written: its effective VL is 128 bits (no SVE: the V register)") !=
        std::string::npos);
  z[16] = std::byte{0};
  z[15] = std::byte{0x77};
  REQUIRE(t->write_register(2, kZ0 + 1, z));
  CHECK((*t->read_register(2, kZ0 + 1))[15] == std::byte{0x77});
}

TEST_CASE("a G with a value above the effective VL writes nothing", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  auto g = t->read_all_registers(3);  // vCPU 2, VL 128
  REQUIRE(g);
  put_le64(*g, 0, 0x1122334455667788);                 // x0
  (*g)[g_offset(*t, 3, kZ0 + 1) + 16] = std::byte{7};  // z1 byte 16: above the VL
  auto st = t->write_all_registers(3, *g);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ERANGE);
  CHECK(st.error().message.find("vCPU 2: z1 not written") != std::string::npos);
  CHECK(st.error().message.find("(G: nothing written)") != std::string::npos);
  CHECK(u64(*t->read_register(3, 0)) == 0x2000);
}

TEST_CASE("monitor stats counts backend reads: one per register per stop", "[target]") {
  SimBackend sim(SimConfig{});
  auto t = make(sim);
  REQUIRE(t->read_all_registers(1));
  REQUIRE(t->read_all_registers(1));
  for (unsigned r = 0; r < 40; ++r) REQUIRE(t->read_register(1, r));
  auto stats = t->monitor("stats");
  REQUIRE(stats);
  // vCPU 0, SVE description: x0..x30, sp, pc, pstate, 32 Z, fpsr, fpcr,
  // 16 P, FFR, and 14 system registers (ZCR_EL1 among them, which vg also
  // uses): 34 + 32 + 2 + 17 + 14 = 99 distinct KVM registers, each read once.
  CHECK_THAT(*stats, Catch::Contains("99 in this stop (99 distinct registers cached)"));
}

TEST_CASE("sp is the stack pointer in use: SP_EL1 at EL1h, SP_EL0 at EL0 and EL1t", "[target]") {
  // KVM's struct kvm_regs has regs.sp (SP_EL0) and sp_el1; gdb's sp must be
  // the one PSTATE.M selects, or backtraces of a guest kernel break.
  SimBackend sim(SimConfig{});
  const auto set = [&](std::uint64_t id, std::uint64_t v) {
    std::array<std::byte, 8> b{};
    for (unsigned i = 0; i < 8; ++i) b[i] = static_cast<std::byte>(v >> (8 * i));
    REQUIRE(sim.set_one_reg(0, id, b));
  };
  const auto get = [&](std::uint64_t id) {
    std::array<std::byte, 8> b{};
    REQUIRE(sim.get_one_reg(0, id, b));
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
    return v;
  };
  set(kvm::core_sp(), 0x1111000);
  set(kvm::core_sp_el1(), 0x2222000);
  for (auto [pstate, want] : {std::pair<std::uint64_t, std::uint64_t>{0x3c5, 0x2222000},  // EL1h
                              {0x3c4, 0x1111000},                                         // EL1t
                              {0x000, 0x1111000}}) {                                      // EL0t
    set(kvm::core_pstate(), pstate);
    auto t = GuestTarget::create(sim, {});  // a new stop: nothing cached
    REQUIRE(t);
    REQUIRE((*t)->attach());
    CAPTURE(pstate);
    auto r = (*t)->read_register(1, 31);
    REQUIRE(r);
    CHECK(u64(*r) == want);
    // A write goes to the selected one and leaves the other alone.
    gdbstub::Bytes v(8, std::byte{0});
    v[1] = std::byte{0x30};  // 0x3000
    REQUIRE((*t)->write_register(1, 31, v));
    CHECK(get(want == 0x2222000 ? kvm::core_sp_el1() : kvm::core_sp()) == 0x3000);
    CHECK(get(want == 0x2222000 ? kvm::core_sp() : kvm::core_sp_el1()) == (want == 0x2222000 ? 0x1111000 : 0x2222000));
    set(want == 0x2222000 ? kvm::core_sp_el1() : kvm::core_sp(), want);
  }
}
