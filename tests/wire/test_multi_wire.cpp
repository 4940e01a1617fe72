// Tier 2: `serve --multi` sessions (extended remote) over an in-memory
// transport: ProcessSlot + MultiHost over the simulated guest, as the
// daemon wires them, fed the exact bytes gdb-multiarch 13 sends.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "gdbstub/process_slot.hpp"
#include "gdbstub/session.hpp"
#include "introspect/multi_host.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "tests/wire/wire_bytes.hpp"

using namespace svedbg;
using test::frame;

namespace {

constexpr long kPid = 0x1234;
constexpr uid_t kOwner = 1000;

gdbstub::Peer user(uid_t uid, std::string address = "unix") {
  gdbstub::Peer p;
  p.address = std::move(address);
  p.authenticated = true;
  p.uid = uid;
  p.gid = uid;
  p.groups = {uid};
  return p;
}

// One host (the simulated guest as pid 0x1234 of uid 1000), shared by the
// clients made with connect().
struct Host {
  Host() {
    introspect::MultiHostConfig config;
    config.list = []() -> Result<std::vector<gdbstub::ProcessInfo>> {
      return std::vector<gdbstub::ProcessInfo>{{kPid, kOwner, "svedbg-vmm --vcpus 4", 4}};
    };
    config.open = [this](long) -> Result<std::shared_ptr<kvm::Backend>> { return std::shared_ptr<kvm::Backend>(sim); };
    host = std::make_unique<introspect::MultiHost>(std::move(config));
    options.policy.daemon_uid = 0;
  }
  std::shared_ptr<introspect::SimBackend> sim = std::make_shared<introspect::SimBackend>(introspect::SimConfig{});
  std::unique_ptr<introspect::MultiHost> host;
  gdbstub::MultiOptions options;
  gdbstub::HolderTable holders;
  std::vector<std::string> log;
};

struct Client {
  Client(Host& h, gdbstub::Peer peer)
      : slot(*h.host, std::move(peer), h.options, h.holders, [&h](const std::string& l) { h.log.push_back(l); }),
        session(slot, gdbstub::SessionOptions{false}) {
    session.enable_multi(slot);
  }
  std::string ask(std::string_view payload) { return session.feed(frame(payload)); }
  gdbstub::ProcessSlot slot;
  gdbstub::Session session;
};

}  // namespace

TEST_CASE("multi wire: extended mode, no process, osdata, attach, detach, attach again", "[wire]") {
  Host h;
  Client c(h, user(kOwner));
  CHECK_THAT(c.ask("qSupported:multiprocess+;swbreak+"), Catch::Contains("hwbreak+;qXfer:osdata:read+#"));
  CHECK(c.ask("!") == "+" + frame("OK"));
  CHECK(c.ask("?") == "+" + frame("W00"));  // no process yet, as gdbserver --multi
  CHECK(c.ask("qfThreadInfo") == "+" + frame("l"));
  CHECK(c.ask("g") == "+" + frame("E03"));  // ESRCH: nothing attached
  const std::string list = c.ask("qXfer:osdata:read:processes:0,fff");
  CHECK_THAT(list, Catch::StartsWith("+$l<?xml") && Catch::Contains("<osdata type=\"processes\">") &&
                       Catch::Contains("<column name=\"pid\">4660</column>") &&
                       Catch::Contains("<column name=\"command\">svedbg-vmm --vcpus 4</column>") &&
                       Catch::Contains("<column name=\"attached\">-</column>"));
  CHECK_THAT(c.ask("qXfer:osdata:read::0,fff"), Catch::Contains("<column name=\"Type\">processes</column>"));
  // vAttach is answered with a stop reply for the first vCPU.
  CHECK_THAT(c.ask("vAttach;1234"), Catch::StartsWith("+$T05thread:1;"));
  CHECK(c.slot.attached());
  CHECK(c.ask("qfThreadInfo") == "+" + frame("m1,2,3,4"));
  CHECK_THAT(c.ask("qXfer:osdata:read:processes:0,fff"),
             Catch::Contains("<column name=\"attached\">uid 1000 (") && Catch::Contains(") on unix</column>"));
  // kill is refused: the VMM stays attached.
  CHECK_THAT(c.ask("vKill;1234"), Catch::StartsWith("+$E.kill refused") && Catch::Contains("--allow-kill"));
  CHECK(c.slot.attached());
  c.ask("k");  // no reply; refused and logged
  CHECK(c.slot.attached());
  CHECK_FALSE(c.session.closed());
  CHECK_THAT(c.ask("vRun;"), Catch::StartsWith("+$E.run refused"));
  // D detaches the process; the session stays open.
  CHECK(c.ask("D") == "+" + frame("OK"));
  CHECK_FALSE(c.session.closed());
  CHECK_FALSE(c.slot.attached());
  CHECK(h.holders.empty());
  CHECK(c.ask("?") == "+" + frame("W00"));
  CHECK_THAT(c.ask("vAttach;1234"), Catch::StartsWith("+$T05thread:1;"));
  CHECK(c.ask("D") == "+" + frame("OK"));
}

TEST_CASE("multi wire: one client per VMM; other users see and attach nothing", "[wire]") {
  Host h;
  Client first(h, user(kOwner, "127.0.0.1:40000"));
  Client same_user(h, user(kOwner));
  Client other(h, user(1001));
  Client root(h, user(0));
  for (Client* c : {&first, &same_user, &other, &root}) c->ask("!");
  REQUIRE_THAT(first.ask("vAttach;1234"), Catch::StartsWith("+$T05"));
  CHECK_THAT(same_user.ask("vAttach;1234"), Catch::StartsWith("+$E.pid 4660 is already attached by uid 1000 (") &&
                                                Catch::Contains(") from 127.0.0.1:40000"));
  CHECK_THAT(root.ask("vAttach;1234"), Catch::StartsWith("+$E.pid 4660 is already attached"));
  // Another user: not listed, and refused with the reason.
  CHECK_THAT(other.ask("qXfer:osdata:read:processes:0,fff"), !Catch::Contains("<item>"));
  CHECK_THAT(other.ask("vAttach;1234"), Catch::StartsWith("+$E.uid 1001") &&
                                            Catch::Contains("may not debug pid 4660") &&
                                            Catch::Contains("owned by uid 1000"));
  CHECK_THAT(root.ask("vAttach;99"), Catch::Contains("E.pid 153 is not a KVM VMM"));
  // Once the first lets go, root (allowed every VMM) attaches it.
  CHECK(first.ask("D") == "+" + frame("OK"));
  CHECK_THAT(root.ask("vAttach;1234"), Catch::StartsWith("+$T05"));
}

TEST_CASE("multi wire: --allow-kill kills the attached VMM; plain serve ignores these packets", "[wire]") {
  Host h;
  h.options.allow_kill = true;
  Client c(h, user(kOwner));
  c.ask("!");
  REQUIRE_THAT(c.ask("vAttach;1234"), Catch::StartsWith("+$T05"));
  CHECK(c.ask("vKill;1234") == "+" + frame("OK"));
  CHECK_FALSE(c.slot.attached());
  CHECK(h.holders.empty());
}

TEST_CASE("multi wire: a session without a slot (plain serve) answers the extended packets empty", "[wire]") {
  Host h;
  gdbstub::ProcessSlot slot(*h.host, user(kOwner), h.options, h.holders, [](const std::string&) {});
  gdbstub::Session plain(slot, gdbstub::SessionOptions{false});
  for (const char* p : {"!", "vAttach;1234", "vKill;1234", "vRun;", "qXfer:osdata:read:processes:0,fff"})
    CHECK(plain.feed(frame(p)) == "+" + frame(""));
  CHECK_THAT(plain.feed(frame("qSupported")), !Catch::Contains("osdata"));
}
