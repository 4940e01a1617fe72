// Tier 2: binary memory reads (`x`), exact bytes on the wire, in gdb's form
// (negotiated with "binary-upload+": 'b' + data) and lldb's (probed with
// "x0,0": the data alone), over the simulated guest.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "gdbstub/framing.hpp"
#include "gdbstub/session.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "tests/wire/wire_bytes.hpp"

using namespace svedbg;

namespace {

using test::frame;

// The sim's RAM starts here; byte k holds k mod 251 until written, except
// the NOPs at its start.
constexpr std::uint64_t kRam = 0x40000000;

struct Rig {
  explicit Rig(bool gdb_form, bool run_length = false)
      : sim(introspect::SimConfig{}),
        target(std::move(*introspect::GuestTarget::create(sim, {}))),
        session(*target, gdbstub::SessionOptions{run_length}) {
    REQUIRE(target->attach());
    // gdb 16 announces binary-upload; lldb 14 sends only xmlRegisters.
    const std::string reply =
        ask(gdb_form ? "qSupported:multiprocess+;binary-upload+;qRelocInsn+" : "qSupported:xmlRegisters=i386,arm,mips");
    CHECK((reply.find(";binary-upload+") != std::string::npos) == gdb_form);
  }
  std::string ask(std::string_view payload) { return session.feed(frame(payload)); }
  // Writes `data` with X, framed and escaped as a client does.
  void poke(std::uint64_t addr, const std::string& data) {
    const std::string x = fmt::format("X{:x},{:x}:", addr, data.size()) + data;
    REQUIRE(session.feed(gdbstub::encode_packet(x, false)) == "+" + frame("OK"));
  }
  introspect::SimBackend sim;
  std::unique_ptr<introspect::GuestTarget> target;
  gdbstub::Session session;
};

// The one packet's payload a reply decodes to (as a client's parser sees it).
std::string decoded(const std::string& wire) {
  gdbstub::FrameParser parser(1 << 20);
  std::string payload;
  int packets = 0;
  for (auto& ev : parser.feed(wire)) {
    if (auto* p = std::get_if<gdbstub::PacketEvent>(&ev)) {
      payload = p->payload;
      ++packets;
    }
  }
  CHECK(packets == 1);
  return payload;
}

}  // namespace

TEST_CASE("wire x: gdb's form is 'b' + data, each special byte escaped", "[wire][x]") {
  Rig r(true);
  // '#', '$', '}', '*' are sent as '}' + byte ^ 0x20; 'A' and 0x00 as they are.
  r.poke(kRam + 0x10, std::string("#$}*A\0", 6));
  CHECK(r.ask("x40000010,6") == "+" + frame(std::string("b}\x03}\x04}]}\x0a"
                                                        "A\0",
                                                        11)));
  // Fixture bytes: 0x1000 mod 251 = 0x50, ...
  CHECK(r.ask("x40001000,4") == "+" + frame("bPQRS"));
  // A zero-length read is an empty 'b' reply; m is unchanged.
  CHECK(r.ask("x40000000,0") == "+" + frame("b"));
  CHECK(r.ask("m40000010,2") == "+" + frame("2324"));
}

TEST_CASE("wire x: lldb's form is the data alone, x0,0 answers OK", "[wire][x]") {
  Rig r(false);
  CHECK(r.ask("x0,0") == "+" + frame("OK"));
  r.poke(kRam + 0x10, std::string("#$}*A\0", 6));
  CHECK(r.ask("x40000010,6") == "+" + frame(std::string("}\x03}\x04}]}\x0a"
                                                        "A\0",
                                                        10)));
  CHECK(r.ask("x40001000,4") == "+" + frame("PQRS"));
}

TEST_CASE("wire x: errors and limits are those of m", "[wire][x]") {
  for (bool gdb_form : {true, false}) {
    Rig r(gdb_form);
    const std::string b = gdb_form ? "b" : "";
    // Nothing mapped at 0: EFAULT, as m.
    CHECK(r.ask("m0,10") == "+" + frame("E0e"));
    CHECK(r.ask("x0,10") == "+" + frame("E0e"));
    CHECK(r.ask("xzz,1") == "+" + frame("E16"));
    CHECK(r.ask("x1,") == "+" + frame("E16"));
    CHECK(r.ask("xffffffffffffffff,2") == "+" + frame("E16"));  // wraps around
    // RAM ends at 0x400fffff: a read across the end is partial, as m.
    CHECK(r.ask("m400ffffe,4") == "+" + frame("9394"));
    CHECK(r.ask("x400ffffe,4") == "+" + frame(b + "\x93\x94"));
  }
}

TEST_CASE("wire x: a reply never exceeds PacketSize on the wire once escaped", "[wire][x]") {
  for (bool gdb_form : {true, false}) {
    Rig r(gdb_form);
    // 128 KiB of '#': every byte takes two on the wire.
    const std::string hashes(0x10000, '#');
    r.poke(kRam, hashes);
    r.poke(kRam + 0x10000, hashes);
    const std::string reply = r.ask("x40000000,20000");
    // gdb: 'b' + 65535 escaped bytes; lldb: 65536 (0x20000 bytes exactly).
    const std::size_t n = gdb_form ? 0xffff : 0x10000;
    std::string body = gdb_form ? "b" : "";
    for (std::size_t i = 0; i < n; ++i) body += "}\x03";
    CHECK(reply == "+" + frame(body));
    CHECK(reply.size() - 5 <= gdbstub::kMaxPacketSize);
    CHECK(decoded(reply.substr(1)) == (gdb_form ? "b" : "") + std::string(n, '#'));
    // Unescaped data: all that was asked, up to PacketSize bytes.
    r.poke(kRam, std::string(0x10000, 'A'));
    r.poke(kRam + 0x10000, std::string(0x10000, 'A'));
    CHECK(decoded(r.ask("x40000000,30000").substr(1)).size() == gdbstub::kMaxPacketSize);
  }
}

TEST_CASE("wire x: run-length encoding never covers an escaped byte", "[wire][x]") {
  Rig r(true, /*run_length=*/true);
  // 50 'A' then 10 '*': the 'A's are one run ("A*" + count char 49 + 29 =
  // 'N'), every '*' is escaped on its own.
  const std::string data = std::string(50, 'A') + std::string(10, '*');
  r.poke(kRam, data);
  std::string body = "bA*N";
  for (int i = 0; i < 10; ++i) body += "}\x0a";
  const std::string reply = r.ask("x40000000,3c");
  CHECK(reply == "+" + frame(body));
  CHECK(decoded(reply.substr(1)) == "b" + data);
}

TEST_CASE("wire x: lldb's form never reads as a status reply", "[wire][x]") {
  Rig r(false);
  // lldb takes "OK", "Enn", "Enn;hex", "+" and "-" for statuses
  // (StringExtractorGDBRemote::GetResponseType): such data is cut to its
  // first byte (a partial read) ...
  r.poke(kRam + 0x1010, "OKE01;0aE7f+-");
  CHECK(r.ask("x40001010,2") == "+" + frame("O"));
  CHECK(r.ask("x40001012,3") == "+" + frame("E"));
  CHECK(r.ask("x40001012,6") == "+" + frame("E"));
  CHECK(r.ask("x40001012,5") == "+" + frame("E"));
  CHECK(r.ask("x40001018,3") == "+" + frame("E"));
  // ... or, one byte asked, sent with the next one (lldb keeps one).
  CHECK(r.ask("x4000101b,1") == "+" + frame("+-"));
  CHECK(r.ask("x4000101c,1") == "+" + frame("-m"));
  // Other data goes out whole.
  CHECK(r.ask("x40001013,2") == "+" + frame("01"));
  CHECK(r.ask("x40001018,4") == "+" + frame("E7f+"));
  CHECK(r.ask("x40001011,2") == "+" + frame("KE"));
}
