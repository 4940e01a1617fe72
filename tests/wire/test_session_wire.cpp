// Tier 2: a whole session over an in-memory transport. The Session is fed
// the exact bytes gdb sends and we assert the exact bytes that go back, with
// the production Target (GuestTarget over the simulated guest).
#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "gdbstub/hex.hpp"
#include "gdbstub/session.hpp"
#include "tests/wire/wire_bytes.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;

namespace {

using test::frame;
using test::le64;

struct Rig {
  explicit Rig(introspect::SimConfig cfg = {}, introspect::TdescVl mode = {})
      : sim(cfg),
        target(std::move(*introspect::GuestTarget::create(sim, {mode}))),
        session(*target, gdbstub::SessionOptions{false}) {
    REQUIRE(target->attach());
  }
  // Sends one packet, returns everything the stub wrote back.
  std::string ask(std::string_view payload) { return session.feed(frame(payload)); }
  introspect::SimBackend sim;
  std::unique_ptr<introspect::GuestTarget> target;
  gdbstub::Session session;
};

}  // namespace

TEST_CASE("wire: handshake and capabilities", "[wire]") {
  Rig r;
  CHECK(r.ask("qSupported:multiprocess+;swbreak+;xmlRegisters=i386") ==
        "+" + frame("PacketSize=20000;qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+;vContSupported+;"
                    "swbreak+;hwbreak+;QNonStop+"));
  CHECK(r.ask("vMustReplyEmpty") == "+" + frame(""));
  CHECK(r.ask("qAttached") == "+" + frame("1"));
  CHECK(r.ask("qfThreadInfo") == "+" + frame("m1,2,3,4"));
  CHECK(r.ask("qsThreadInfo") == "+" + frame("l"));
  CHECK(r.ask("qC") == "+" + frame("QC1"));
  CHECK(r.ask("vCont?") == "+" + frame("vCont;c;C;s;S;t"));
}

TEST_CASE("wire: stop reply expedites x29, sp, pc and vg of the stopping thread", "[wire]") {
  Rig r;
  CHECK(r.ask("?") == "+" + frame("T05thread:1;1d:" + le64(0x1d) + ";1f:" + le64(0x80000000) +
                                  ";20:" + le64(0x40000000) + ";55:" + le64(32) + ";"));
  // Step thread 3 (vCPU 2, effective VL 128 bits -> vg 2).
  CHECK(r.ask("vCont;s:3;c") == "+" + frame("T05thread:3;1d:" + le64(0x201d) + ";1f:" + le64(0x80002000) +
                                            ";20:" + le64(0x40000004) + ";55:" + le64(2) + ";"));
  CHECK(r.ask("qC") == "+" + frame("QC3"));
}

TEST_CASE("wire: registers of thread 2 at the description VL", "[wire]") {
  Rig r;
  CHECK(r.ask("Hg2") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(le64(0x1000)));
  CHECK(r.ask("p55") == "+" + frame(le64(8)));  // vg: VL 512 = 8 granules
  // z0 of vCPU 1: (37 + b) mod 256 for b < 64, zero up to 256 bytes.
  std::string z0;
  for (int b = 0; b < 256; ++b) z0 += fmt::format("{:02x}", b < 64 ? (37 + b) % 256 : 0);
  CHECK(r.ask("p22") == "+" + frame(z0));
  // p15 of vCPU 1: (5 + 45 + b) for b < 8, zero to 32 bytes.
  std::string p15;
  for (int b = 0; b < 32; ++b) p15 += fmt::format("{:02x}", b < 8 ? (50 + b) % 256 : 0);
  CHECK(r.ask("p53") == "+" + frame(p15));
  // cpsr is 32 bits on the wire (KVM's pstate is 64).
  CHECK(r.ask("p21") == "+" + frame("c5030000"));
}

TEST_CASE("wire: the g block has every register in number order", "[wire]") {
  Rig r;
  std::string reply = r.ask("g");
  REQUIRE(reply.size() > 4);
  std::string hex = reply.substr(2, reply.size() - 5);
  CHECK(hex.size() == 2 * xml::g_packet_size(true, 16));
  CHECK(hex.substr(0, 16) == le64(0));
  CHECK(hex.substr(31 * 16, 16) == le64(0x80000000));
}

TEST_CASE("wire: writes go to the vCPU and are read back", "[wire]") {
  Rig r;
  CHECK(r.ask("P3=1122334455667788") == "+" + frame("OK"));
  CHECK(r.ask("p3") == "+" + frame("1122334455667788"));
  CHECK(r.ask("M40000010,2:abcd") == "+" + frame("OK"));
  CHECK(r.ask("m4000000e,4") == "+" + frame("03d5abcd"));
  // vg cannot be changed from gdb; writing its own value is accepted (G).
  CHECK(r.ask("P55=" + le64(32)) == "+" + frame("OK"));
  CHECK(r.ask("P55=" + le64(8)) == "+" + frame("E01"));
}

TEST_CASE("wire: acks, NAK retransmission, no-ack mode", "[wire]") {
  Rig r;
  std::string first = r.ask("qC");
  CHECK(first == "+" + frame("QC1"));
  CHECK(r.session.feed("-") == frame("QC1"));  // retransmit on NAK
  CHECK(r.session.feed("$qC#00") == "-");      // bad checksum
  CHECK(r.ask("QStartNoAckMode") == "+" + frame("OK"));
  CHECK(r.session.feed("+") == "");
  CHECK(r.ask("qC") == frame("QC1"));  // no '+' any more
}

TEST_CASE("wire: continue, interrupt and the stop that follows", "[wire]") {
  Rig r;
  CHECK(r.ask("c") == "+");  // running: no reply yet
  CHECK(r.session.running());
  CHECK(r.ask("g") == "+" + frame("E10"));  // EBUSY while running
  std::string stop = r.session.feed("\x03");
  CHECK(stop.rfind("$T02thread:1;", 0) == 0);
  CHECK_FALSE(r.session.running());
}

TEST_CASE("wire: malformed and unknown packets never end the session", "[wire]") {
  Rig r;
  CHECK(r.ask("pzz") == "+" + frame("E16"));
  CHECK(r.ask("Hgzz") == "+" + frame("E16"));
  CHECK(r.ask("Hg9") == "+" + frame("E03"));
  CHECK(r.ask("p99") == "+" + frame("E02"));
  CHECK(r.ask("m0,10") == "+" + frame("E0e"));
  CHECK(r.ask("qNoSuchThing") == "+" + frame(""));
  CHECK(r.ask("qC") == "+" + frame("QC1"));
}

TEST_CASE("wire: qRcmd runs monitor commands", "[wire]") {
  Rig r;
  std::string reply = r.ask("qRcmd," + gdbstub::to_hex(std::string_view("sim set-vl 2 384")));
  CHECK(reply == "+" + frame(gdbstub::to_hex(std::string_view("vCPU 2: VL 384 bits (ZCR_EL1.LEN=2)\n"))));
  CHECK(r.ask("qThreadExtraInfo,3") == "+" + frame(gdbstub::to_hex(std::string_view("vCPU 2, VL 384 bits"))));
}

TEST_CASE("wire: detach ends the session with OK", "[wire]") {
  Rig r;
  CHECK(r.ask("D") == "+" + frame("OK"));
  CHECK(r.session.closed());
}

TEST_CASE("wire: qThreadStopInfo gives any thread's stop reply with its own vg", "[wire]") {
  Rig r;
  // Thread 1 stopped (attach: SIGTRAP); thread 3 did not stop: signal 0, vg 2.
  CHECK(r.ask("qThreadStopInfo3") == "+" + frame("T00thread:3;1d:" + le64(0x201d) + ";1f:" + le64(0x80002000) +
                                                 ";20:" + le64(0x40000000) + ";55:" + le64(2) + ";"));
  CHECK(r.ask("qThreadStopInfo1").rfind("+$T05thread:1;", 0) == 0);
  CHECK(r.ask("qThreadStopInfo9") == "+" + frame("E03"));
  CHECK(r.ask("qThreadStopInfo") == "+" + frame("E16"));
}

TEST_CASE("wire: a refused resume is answered with E.text that gdb prints", "[wire]") {
  introspect::SimBackend sim(introspect::SimConfig{});
  auto target = std::move(*introspect::GuestTarget::create(sim, {introspect::TdescVl{}, false, /*read_only=*/true}));
  REQUIRE(target->attach());
  gdbstub::Session session(*target, gdbstub::SessionOptions{false});
  // `c ADDR` must write pc first; --read-only refuses, and says so in text.
  CHECK(session.feed(frame("c40000100")) == "+" + frame("E.vCPU 0: pc not written: svedbg runs --read-only"));
  CHECK_FALSE(session.running());
  CHECK(session.feed(frame("vCont;s:9")) == "+" + frame("E03"));  // malformed: a plain errno
}

TEST_CASE("wire: a VMM that exits under the debugger is an X stop reply", "[wire]") {
  Rig r;
  CHECK(r.ask("qRcmd," + gdbstub::to_hex(std::string_view("sim vmm-exit"))) ==
        "+" + frame(gdbstub::to_hex(std::string_view("the simulated VMM exited; the next resume reports it\n"))));
  CHECK(r.ask("vCont;c") == "+" + frame("X09"));  // SIGKILL: the process is gone
  CHECK_FALSE(r.session.running());
  CHECK(r.ask("qC") == "+" + frame("QC1"));  // the session goes on
}

TEST_CASE("wire: an M or X write that runs past the end of RAM writes nothing", "[wire]") {
  Rig r;
  // RAM is 0x40000000..0x400fffff: of 4 bytes at 0x400ffffe, 2 would fit.
  // Fixture bytes there: 0xffffe mod 251 = 147, 0xfffff mod 251 = 148.
  CHECK(r.ask("m400ffffe,2") == "+" + frame("9394"));
  CHECK(r.ask("M400ffffe,4:11223344") == "+" + frame("E0e"));
  CHECK(r.ask("m400ffffe,2") == "+" + frame("9394"));
  CHECK(r.ask("X400ffffe,4:abcd") == "+" + frame("E0e"));
  CHECK(r.ask("m400ffffe,2") == "+" + frame("9394"));
  // What fits is written.
  CHECK(r.ask("M400ffffe,2:1122") == "+" + frame("OK"));
  CHECK(r.ask("m400ffffe,2") == "+" + frame("1122"));
}

TEST_CASE("wire: a G packet with one refused register writes none", "[wire]") {
  Rig r;
  const std::string g = r.ask("g");
  REQUIRE(g.size() > 5);
  std::string block = g.substr(2, g.size() - 5);
  // Hex offset of SCTLR_EL1 (register 0x57): the sizes of registers 0..0x56.
  std::size_t sctlr = 0;
  for (unsigned n = 0; n < 0x57; ++n) sctlr += r.ask(fmt::format("p{:x}", n)).size() - 5;
  REQUIRE(block.substr(sctlr, 16) == le64(0x30d00800));
  block.replace(0, 16, le64(0x1122334455667788));  // x0: allowed alone
  block.replace(sctlr, 16, le64(0x30d00801));      // SCTLR_EL1: read-only without --allow-sysreg-writes
  CHECK(r.ask("G" + block) == "+" + frame("E01"));
  CHECK(r.ask("p0") == "+" + frame(le64(0)));
  CHECK(r.ask("p57") == "+" + frame(le64(0x30d00800)));
}
