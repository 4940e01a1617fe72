// introspect::VcpuSubset over the simulated guest: `serve --vcpus` numbering.
#include <cerrno>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/vcpu_subset.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

std::uint64_t u64(kvm::Backend& b, unsigned vcpu, std::uint64_t id) {
  std::uint64_t v = 0;
  auto s = b.get_one_reg(vcpu, id, std::as_writable_bytes(std::span(&v, 1)));
  INFO(kvm::reg_name(id) << ": " << (s ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
  return v;
}

std::unique_ptr<VcpuSubset> subset(std::vector<unsigned> v, SimBackend** sim = nullptr) {
  auto inner = std::make_unique<SimBackend>(SimConfig{});
  if (sim) *sim = inner.get();
  auto r = VcpuSubset::create(std::move(inner), std::move(v));
  REQUIRE(r);
  return std::move(*r);
}

}  // namespace

TEST_CASE("parse_vcpu_list", "[subset]") {
  CHECK(*parse_vcpu_list("0,2") == std::vector<unsigned>{0, 2});
  CHECK(*parse_vcpu_list("3") == std::vector<unsigned>{3});
  CHECK(*parse_vcpu_list("5-7,1") == std::vector<unsigned>{1, 5, 6, 7});
  for (const char* bad : {"", ",", "1,", "a", "1-", "-1", "3-1", "1,1", "0-2,2", "1 ,2", "99999999999"}) {
    auto r = parse_vcpu_list(bad);
    INFO(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().message.find("--vcpus") != std::string::npos);
  }
}

TEST_CASE("create refuses vCPUs the guest does not have, repeats and disorder", "[subset]") {
  auto make = [](std::vector<unsigned> v) { return VcpuSubset::create(std::make_unique<SimBackend>(SimConfig{}), v); };
  auto r = make({1, 4});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ESRCH);
  CHECK(r.error().message == "--vcpus: no vCPU 4: the guest has vCPUs 0-3");
  CHECK_FALSE(make({}));
  CHECK_FALSE(make({2, 1}));
  CHECK_FALSE(make({1, 1}));
  CHECK(make({0, 1, 2, 3}));
}

TEST_CASE("served vCPU i is the inner vCPU vcpus[i]: registers, batches, errors", "[subset]") {
  auto b = subset({1, 3});
  CHECK(b->vcpu_count() == 2);
  CHECK(b->name() == "sim");
  CHECK(b->inner_index(1) == 3);
  // The fixture: xN = 0x1000*c + N on inner vCPU c.
  CHECK(u64(*b, 0, kvm::core_x(5)) == 0x1005);
  CHECK(u64(*b, 1, kvm::core_x(5)) == 0x3005);
  std::uint64_t v = 0;
  auto s = b->get_one_reg(2, kvm::core_x(0), std::as_writable_bytes(std::span(&v, 1)));
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ESRCH);

  // A batch with a bad vCPU in the middle: the others are still read.
  std::uint64_t a = 0, c = 0, d = 0;
  std::vector<kvm::Backend::RegRead> reads{
      {1, kvm::core_x(7), std::as_writable_bytes(std::span(&a, 1)), {}},
      {7, kvm::core_x(7), std::as_writable_bytes(std::span(&c, 1)), {}},
      {0, kvm::core_x(9), std::as_writable_bytes(std::span(&d, 1)), {}},
  };
  b->get_regs(reads);
  CHECK(reads[0].status.ok());
  CHECK(a == 0x3007);
  CHECK_FALSE(reads[1].status.ok());
  CHECK(reads[2].status.ok());
  CHECK(d == 0x1009);

  const std::uint64_t nv = 0x1234;
  REQUIRE(b->set_one_reg(1, kvm::core_x(2), std::as_bytes(std::span(&nv, 1))).ok());
  CHECK(u64(*b, 1, kvm::core_x(2)) == 0x1234);
}

TEST_CASE("steps and stops are translated; unserved vCPUs follow all-stop", "[subset]") {
  SimBackend* sim = nullptr;
  auto b = subset({1, 3}, &sim);
  const unsigned second[] = {1};  // served 1 = inner 3
  REQUIRE(b->resume(second, false).ok());
  auto stop = b->poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 1);
  CHECK(stop->reason == kvm::StopReason::Stepped);
  CHECK(u64(*sim, 3, kvm::core_pc()) == 0x40000004);
  CHECK(u64(*sim, 1, kvm::core_pc()) == 0x40000000);
  CHECK(u64(*sim, 0, kvm::core_pc()) == 0x40000000);  // not served, stayed stopped

  const unsigned bad[] = {2};
  const Status s = b->resume(bad, false);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ESRCH);

  // A stop reported by a vCPU that is not served lands on served vCPU 0.
  const unsigned inner_zero[] = {0};
  REQUIRE(sim->resume(inner_zero, false).ok());
  stop = b->poll_stop();
  REQUIRE(stop.has_value());
  CHECK(stop->vcpu == 0);
  CHECK(stop->reason == kvm::StopReason::Stepped);
}

TEST_CASE("served vCPUs keep the VMM's numbers in what users read: thread text, monitor vls, JSON", "[subset]") {
  auto b = subset({2, 3});
  auto made = GuestTarget::create(*b, {});
  REQUIRE(made);
  auto& t = **made;
  REQUIRE(t.attach());
  CHECK(t.threads() == std::vector<gdbstub::ThreadId>{1, 2});
  // The fixture's effective VLs: 128 bits on vCPU 2, 256 on vCPU 3.
  CHECK(t.thread_extra_info(1) == "vCPU 2, VL 128 bits");
  CHECK(t.thread_extra_info(2) == "vCPU 3, VL 256 bits");
  const auto vls = t.monitor("vls");
  REQUIRE(vls);
  CHECK(vls->find("vCPU 2: enabled VLs") != std::string::npos);
  CHECK(vls->find("vCPU 3: enabled VLs") != std::string::npos);
  CHECK(vls->find("vCPU 0:") == std::string::npos);
  const auto json = t.monitor("dump json");
  REQUIRE(json);
  CHECK(json->find("\"index\": 2,") < json->find("\"index\": 3,"));
  CHECK(json->find("\"index\": 3,") != std::string::npos);
  CHECK(json->find("\"index\": 0,") == std::string::npos);
}
