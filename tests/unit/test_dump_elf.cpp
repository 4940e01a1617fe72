// ELF core round trip: the simulated guest written by write_core and read
// back by CoreBackend answers every KVM register ID and every RAM byte the
// same, in each NT_ARM_SVE shape, with and without SVE vCPUs.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/monitor_run.hpp"
#include "common/le_bytes.hpp"
#include "introspect/core/core_backend.hpp"
#include "introspect/core/core_reader.hpp"
#include "introspect/core_writer.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/regmap.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/vcpu_subset.hpp"
#include "introspect/vcpu_snapshot.hpp"
#include "kvm/reg_id.hpp"
#include "xml-targets/tdesc.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

struct TempFile {
  std::string path;
  TempFile() {
    char tmpl[] = "/tmp/svedbg-core-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

void write(kvm::Backend& b, const std::string& path, SveNotes notes, bool memory) {
  auto snaps = take_snapshots(b);
  REQUIRE(snaps.ok());
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  REQUIRE(fd >= 0);
  const Status s = write_core(fd, *snaps, b, CoreWriteOptions{notes, memory, {}});
  ::close(fd);
  INFO((s ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
}

// Every KVM register a vCPU answers (the stub's map plus VLS).
std::vector<std::uint64_t> all_ids(bool sve) {
  std::vector<std::uint64_t> ids;
  for (const auto& spec : xml::register_table(true, 1))
    if (auto id = kvm_id_for(spec, sve)) ids.push_back(*id);
  if (sve) ids.push_back(kvm::sve_vls());
  return ids;
}

// Same answer (status code, or bytes) from both backends for every ID.
void same_registers(kvm::Backend& a, kvm::Backend& b) {
  REQUIRE(a.vcpu_count() == b.vcpu_count());
  for (unsigned v = 0; v < a.vcpu_count(); ++v) {
    std::vector<std::byte> vls(kvm::kVlsBytes);
    const bool sve = a.get_one_reg(v, kvm::sve_vls(), vls).ok();
    for (std::uint64_t id : all_ids(sve)) {
      std::vector<std::byte> x(kvm::reg_size(id)), y(kvm::reg_size(id));
      const Status sa = a.get_one_reg(v, id, x), sb = b.get_one_reg(v, id, y);
      INFO("vCPU " << v << " " << kvm::reg_name(id) << ": " << (sb ? std::string("ok") : sb.error().message));
      REQUIRE(sa.ok() == sb.ok());
      if (sa.ok())
        CHECK(x == y);
      else
        CHECK(sa.error().code == sb.error().code);
    }
  }
}

void same_memory(kvm::Backend& a, kvm::Backend& b) {
  for (const auto& r : a.memory_map()) {
    std::vector<std::byte> x(r.size), y(r.size);
    auto na = a.read_phys(r.gpa, x);
    auto nb = b.read_phys(r.gpa, y);
    REQUIRE(na.ok());
    REQUIRE(nb.ok());
    CHECK(*nb == r.size);
    CHECK(x == y);
  }
}

SimConfig varied_config() {
  SimConfig cfg;
  cfg.ram_size = 0x3000;
  return cfg;
}

}  // namespace

TEST_CASE("ELF round trip of the sim fixture, every NT_ARM_SVE shape") {
  for (SveNotes notes : {SveNotes::Gdb13, SveNotes::Uniform, SveNotes::Effective}) {
    INFO("--sve-notes " << to_string(notes));
    SimBackend sim(varied_config());
    // fpsr/fpcr at VL 128 sit 14 padding bytes after FFR (SVE_PT_SVE_FPSR_OFFSET).
    const std::uint32_t fpsr = 0x08000010, fpcr = 0x03000000;
    for (unsigned v = 0; v < 4; ++v) {
      REQUIRE(sim.set_one_reg(v, kvm::core_fpsr(), std::as_bytes(std::span(&fpsr, 1))).ok());
      REQUIRE(sim.set_one_reg(v, kvm::core_fpcr(), std::as_bytes(std::span(&fpcr, 1))).ok());
    }
    REQUIRE(test::run_monitor(sim, "sim set-vl 3 384").has_value());
    TempFile f;
    write(sim, f.path, notes, true);
    auto core = CoreBackend::open(f.path);
    INFO((core ? std::string("ok") : core.error().message));
    REQUIRE(core.ok());
    CHECK((*core)->warnings().empty());
    same_registers(sim, **core);
    same_memory(sim, **core);

    // The target above sees the same effective VLs.
    auto live = GuestTarget::create(sim, {});
    auto dead = GuestTarget::create(**core, {});
    REQUIRE(live.ok());
    REQUIRE(dead.ok());
    CHECK((*dead)->description_vq() == 16);
    for (unsigned v = 0; v < 4; ++v) {
      auto a = (*live)->vcpu_vl(v);
      auto b = (*dead)->vcpu_vl(v);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(a->effective_vq == b->effective_vq);
      CHECK(a->max_vq == b->max_vq);
    }
  }
}

TEST_CASE("ELF round trip with vCPUs without SVE (mixed, and none)") {
  for (std::vector<bool> sve : {std::vector<bool>{false, true, false}, std::vector<bool>{false}}) {
    for (SveNotes notes : {SveNotes::Gdb13, SveNotes::Uniform, SveNotes::Effective}) {
      INFO("--sve-notes " << to_string(notes) << ", " << sve.size() << " SVE pattern");
      SimConfig cfg = varied_config();
      cfg.vcpus = 3;
      cfg.sve = sve;
      cfg.max_vq = 4;
      SimBackend sim(cfg);
      TempFile f;
      write(sim, f.path, notes, false);
      auto core = CoreBackend::open(f.path);
      INFO((core ? std::string("ok") : core.error().message));
      REQUIRE(core.ok());
      same_registers(sim, **core);
      CHECK((*core)->memory_map().empty());
      std::vector<std::byte> vls(kvm::kVlsBytes);
      CHECK((*core)->get_one_reg(0, kvm::sve_vls(), vls).error().code == ENOENT);
    }
  }
}

TEST_CASE("A core file is read-only and cannot run") {
  SimBackend sim(varied_config());
  TempFile f;
  write(sim, f.path, SveNotes::Gdb13, true);
  auto core = CoreBackend::open(f.path);
  REQUIRE(core.ok());
  kvm::Backend& b = **core;
  std::vector<std::byte> x(8);
  const Status w = b.set_one_reg(0, kvm::core_x(0), x);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == EROFS);
  CHECK(w.error().message.find("read-only") != std::string::npos);
  auto wp = b.write_phys(0x40000000, x);
  REQUIRE_FALSE(wp.ok());
  CHECK(wp.error().code == EROFS);
  // It never runs: no run control at all, and gdb's continue is refused.
  CHECK(b.run_control() == nullptr);
  CHECK(b.detach() == svedbg::Detached::NeverRuns);
  auto target = GuestTarget::create(b, GuestOptions{});
  REQUIRE(target.ok());
  REQUIRE((*target)->attach().ok());
  const gdbstub::ResumeAction cont{gdbstub::ResumeKind::Continue, std::nullopt};
  const Status r = (*target)->resume(std::span(&cont, 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == EPERM);
  CHECK(r.error().message == "the core target cannot run (it offers no run control)");
  CHECK_FALSE((*target)->poll_stop().has_value());
  std::vector<std::byte> m(16);
  auto n = b.read_phys(0x40000000 + 0x3000 - 8, m);
  REQUIRE(n.ok());
  CHECK(*n == 8);
  auto none = b.read_phys(0x10, m);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == EFAULT);
}

TEST_CASE("A core of some vCPUs (--vcpus 2,3) names them as the VMM did in its errors") {
  auto sub = VcpuSubset::create(std::make_unique<SimBackend>(SimConfig{}), {2, 3});
  REQUIRE(sub.ok());
  TempFile f;
  write(**sub, f.path, SveNotes::Gdb13, false);
  auto core = CoreBackend::open(f.path);
  REQUIRE(core.ok());
  kvm::Backend& b = **core;
  REQUIRE(b.vcpu_count() == 2);
  CHECK(b.vmm_index(0) == 2);
  CHECK(b.vmm_index(1) == 3);
  std::vector<std::byte> x(8);
  const Status w = b.set_one_reg(0, kvm::core_x(0), x);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message.find("cannot write x0 of vCPU 2") != std::string::npos);
  std::vector<std::byte> z(256);
  const Status slice = b.get_one_reg(1, kvm::sve_zreg(0, 1), z);
  REQUIRE_FALSE(slice.ok());
  INFO(slice.error().message);
  CHECK(slice.error().message.rfind("vCPU 3: SVE slices above 0", 0) == 0);
  std::vector<std::byte> small(4);
  const Status size = b.get_one_reg(0, kvm::core_x(0), small);
  REQUIRE_FALSE(size.ok());
  CHECK(size.error().message.rfind("vCPU 2: 4-byte buffer", 0) == 0);
  // Out of range is about the core's own vCPUs (positions), not the VMM's.
  CHECK(b.get_one_reg(2, kvm::core_x(0), x).error().message.find("no vCPU 2 (the core file has 2)") !=
        std::string::npos);
}

TEST_CASE("NT_PRSTATUS sp is the stack pointer PSTATE.M selects and SP_EL0 survives the round trip") {
  SimBackend sim(varied_config());
  // vCPU 0 at EL1h (the sim's reset mode) with SP_EL0 = a Linux `current`;
  // vCPU 1 at EL0t; vCPU 2 at EL1t (on SP_EL0 too).
  const std::uint64_t sp_el0 = 0xffff000012345670, el0t = 0x0, el1t = 0x3c4;
  for (unsigned v = 0; v < 3; ++v)
    REQUIRE(sim.set_one_reg(v, kvm::core_sp(), std::as_bytes(std::span(&sp_el0, 1))).ok());
  REQUIRE(sim.set_one_reg(1, kvm::core_pstate(), std::as_bytes(std::span(&el0t, 1))).ok());
  REQUIRE(sim.set_one_reg(2, kvm::core_pstate(), std::as_bytes(std::span(&el1t, 1))).ok());
  auto snaps = take_snapshots(sim);
  REQUIRE(snaps.ok());
  TempFile f;
  write(sim, f.path, SveNotes::Gdb13, false);

  auto img = read_core(f.path);
  REQUIRE(img.ok());
  REQUIRE(img->vcpus.size() == 4);
  const auto prstatus_sp = [&](unsigned v) { return load_le<std::uint64_t>(img->vcpus[v].core, kvm::layout::kSp); };
  std::uint64_t sp_el1 = 0;
  for (const auto& r : (*snaps)[0].sysregs)
    if (r.id == kvm::core_sp_el1()) sp_el1 = r.value;
  REQUIRE(sp_el1 != 0);
  REQUIRE(sp_el1 != sp_el0);
  CHECK(prstatus_sp(0) == sp_el1);  // what gdb reading the core as a file shows as $sp
  CHECK(prstatus_sp(1) == sp_el0);
  CHECK(prstatus_sp(2) == sp_el0);

  // Opened back, every KVM ID (regs.sp = SP_EL0 included) answers as the sim
  // does, and the served `sp` is SP_EL1 at EL1h as live.
  auto core = CoreBackend::open(f.path);
  REQUIRE(core.ok());
  same_registers(sim, **core);
  auto dead = GuestTarget::create(**core, {});
  REQUIRE(dead.ok());
  for (unsigned v = 0; v < 3; ++v) {
    auto sp = (*dead)->read_register(v + 1, 31);  // gdb's regnum 31, thread v + 1
    REQUIRE(sp.ok());
    CHECK(load_le<std::uint64_t>(*sp, 0) == prstatus_sp(v));
  }
}
