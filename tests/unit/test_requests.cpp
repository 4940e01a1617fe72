#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "gdbstub/requests.hpp"

using namespace svedbg::gdbstub;

namespace {

template <typename T>
T parse_as(std::string_view payload) {
  INFO("payload: " << payload);
  auto r = parse_request(payload);
  if (!r.ok()) FAIL("parse error: " << r.error().message);
  const T* v = std::get_if<T>(&*r);
  REQUIRE(v != nullptr);
  return *v;
}

void check_malformed(std::string_view payload, std::string_view name) {
  INFO("payload: " << payload);
  auto r = parse_request(payload);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == EINVAL);
  // The message names the packet.
  CHECK(r.error().message.find("'" + std::string(name) + "'") != std::string::npos);
}

void check_unknown(std::string_view payload) {
  INFO("payload: " << payload);
  CHECK(parse_as<req::Unknown>(payload).payload == payload);
}

Bytes bytes(std::initializer_list<unsigned> values) {
  Bytes out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

bool is_id(const ThreadSel& s, ThreadId id) { return s.kind == ThreadSel::Kind::Id && s.id == id; }

}  // namespace

TEST_CASE("thread-id syntax", "[requests]") {
  CHECK(parse_thread_sel("0")->kind == ThreadSel::Kind::Any);
  CHECK(parse_thread_sel("-1")->kind == ThreadSel::Kind::All);
  CHECK(is_id(*parse_thread_sel("1"), 1));
  CHECK(is_id(*parse_thread_sel("1F"), 0x1f));
  CHECK(is_id(*parse_thread_sel("p2a.3"), 3));
  CHECK(parse_thread_sel("p1.-1")->kind == ThreadSel::Kind::All);
  CHECK(parse_thread_sel("p1.0")->kind == ThreadSel::Kind::Any);
  CHECK(parse_thread_sel("p1")->kind == ThreadSel::Kind::All);
  CHECK(parse_thread_sel("p-1")->kind == ThreadSel::Kind::All);
  CHECK(parse_thread_sel("p-1.-1")->kind == ThreadSel::Kind::All);
  for (const char* bad : {"", "-2", "x", "p", "p.1", "p1.", "p1.x", "pz.1", "p1.p2", "1.2", "10000000000000000"}) {
    INFO(bad);
    CHECK_FALSE(parse_thread_sel(bad));
  }
}

TEST_CASE("qSupported", "[requests]") {
  CHECK(parse_as<req::QSupported>("qSupported").features.empty());
  CHECK(parse_as<req::QSupported>("qSupported:").features.empty());
  const auto q = parse_as<req::QSupported>(
      "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;xmlRegisters=i386");
  CHECK(q.features == std::vector<std::string>{"multiprocess+", "swbreak+", "hwbreak+", "qRelocInsn+", "fork-events+",
                                               "xmlRegisters=i386"});
  check_malformed("qSupported,x", "qSupported");
  check_unknown("qSupportedX");
}

TEST_CASE("QStartNoAckMode", "[requests]") {
  parse_as<req::StartNoAckMode>("QStartNoAckMode");
  check_malformed("QStartNoAckMode:1", "QStartNoAckMode");
  check_unknown("QAgent:1");
}

TEST_CASE("non-stop packets: QNonStop, vStopped, vCtrlC", "[requests][nonstop]") {
  CHECK(parse_as<req::NonStop>("QNonStop:1").on);
  CHECK_FALSE(parse_as<req::NonStop>("QNonStop:0").on);
  check_malformed("QNonStop:2", "QNonStop");
  check_malformed("QNonStop", "QNonStop");
  parse_as<req::StopAck>("vStopped");
  check_malformed("vStopped:1", "vStopped");
  parse_as<req::CtrlC>("vCtrlC");
  check_unknown("vStoppedX");
}

TEST_CASE("qXfer read", "[requests]") {
  const auto x = parse_as<req::XferRead>("qXfer:features:read:target.xml:0,fff");
  CHECK(x.object == "features");
  CHECK(x.annex == "target.xml");
  CHECK(x.offset == 0);
  CHECK(x.length == 0xfff);
  const auto t = parse_as<req::XferRead>("qXfer:threads:read::1a,20");
  CHECK(t.object == "threads");
  CHECK(t.annex.empty());
  CHECK(t.offset == 0x1a);
  CHECK(t.length == 0x20);
  // The annex runs up to the last ':'.
  CHECK(parse_as<req::XferRead>("qXfer:features:read:a:b.xml:0,1").annex == "a:b.xml");
  check_unknown("qXfer:features:write:target.xml:0:abc");
  check_malformed("qXfer:features:read:target.xml:zz,10", "qXfer");
  check_malformed("qXfer:features:read:target.xml:0", "qXfer");
  check_malformed("qXfer:features:read:target.xml:0,", "qXfer");
  check_malformed("qXfer:features:read:target.xml", "qXfer");
  check_malformed("qXfer:features:read", "qXfer");
  check_malformed("qXfer::read:x:0,1", "qXfer");
  check_malformed("qXfer", "qXfer");
}

TEST_CASE("single-letter packets without arguments", "[requests]") {
  parse_as<req::HaltReason>("?");
  parse_as<req::ReadAllRegisters>("g");
  parse_as<req::Kill>("k");
  check_malformed("g1", "g");
  check_malformed("?x", "?");
  check_malformed("kk", "k");
}

TEST_CASE("G", "[requests]") {
  CHECK(parse_as<req::WriteAllRegisters>("G0011aAfF").data == bytes({0x00, 0x11, 0xaa, 0xff}));
  check_malformed("G", "G");
  check_malformed("G001", "G");
  check_malformed("Gxx", "G");
}

TEST_CASE("p and P", "[requests]") {
  CHECK(parse_as<req::ReadRegister>("p0").regnum == 0);
  CHECK(parse_as<req::ReadRegister>("p1f").regnum == 0x1f);
  CHECK(parse_as<req::ReadRegister>("pA0").regnum == 0xa0);
  check_malformed("p", "p");
  check_malformed("pzz", "p");
  check_malformed("p-1", "p");
  check_malformed("p100000000", "p");  // does not fit unsigned

  const auto w = parse_as<req::WriteRegister>("P20=0102030405060708");
  CHECK(w.regnum == 0x20);
  CHECK(w.data == bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  check_malformed("Pzz=00", "P");
  check_malformed("P1", "P");
  check_malformed("P1=", "P");
  check_malformed("P1=0", "P");
  check_malformed("P1=zz", "P");
  check_malformed("P=00", "P");
}

TEST_CASE("m", "[requests]") {
  const auto m = parse_as<req::ReadMemory>("mffff000012345678,40");
  CHECK(m.addr == 0xffff000012345678u);
  CHECK(m.length == 0x40);
  CHECK(parse_as<req::ReadMemory>("m0,0").length == 0);
  // The client's length is passed through, not capped or allocated here.
  CHECK(parse_as<req::ReadMemory>("m0,ffffffff").length == 0xffffffffu);
  CHECK(parse_as<req::ReadMemory>("mffffffffffffffff,1").addr == 0xffffffffffffffffu);
  check_malformed("m", "m");
  check_malformed("m1,", "m");
  check_malformed("m,1", "m");
  check_malformed("m1", "m");
  check_malformed("mx,1", "m");
  check_malformed("m1,1:", "m");
  check_malformed("mffffffffffffffff,2", "m");  // wraps around
}

TEST_CASE("M and X", "[requests]") {
  const auto m = parse_as<req::WriteMemory>("M1000,3:0a0b0c");
  CHECK(m.addr == 0x1000);
  CHECK(m.data == bytes({0x0a, 0x0b, 0x0c}));
  CHECK(parse_as<req::WriteMemory>("M10,0:").data.empty());
  check_malformed("M0,2:00", "M");  // length disagrees with data
  check_malformed("M0,1:000", "M");
  check_malformed("M0,1:zz", "M");
  check_malformed("M0,1", "M");
  check_malformed("M0:00", "M");

  // X data is raw binary (framing already undid the '}' escapes); it may
  // contain ':' and any byte.
  const std::string payload = std::string("X2000,5:a:\0}\xff", 13);
  const auto x = parse_as<req::WriteMemory>(payload);
  CHECK(x.addr == 0x2000);
  CHECK(x.data == bytes({'a', ':', 0x00, '}', 0xff}));
  // gdb's probe for X support: zero length, no data.
  const auto probe = parse_as<req::WriteMemory>("X1234,0:");
  CHECK(probe.addr == 0x1234);
  CHECK(probe.data.empty());
  check_malformed("X0,2:a", "X");
  check_malformed("X0,1:ab", "X");
  check_malformed("X0,1", "X");
  check_malformed("Xq,1:a", "X");
  check_malformed("Xffffffffffffffff,2:ab", "X");
}

TEST_CASE("H", "[requests]") {
  const auto g = parse_as<req::SetThread>("Hg1");
  CHECK(g.op == 'g');
  CHECK(is_id(g.thread, 1));
  const auto c = parse_as<req::SetThread>("Hc-1");
  CHECK(c.op == 'c');
  CHECK(c.thread.kind == ThreadSel::Kind::All);
  CHECK(parse_as<req::SetThread>("Hg0").thread.kind == ThreadSel::Kind::Any);
  CHECK(is_id(parse_as<req::SetThread>("Hgp1.2").thread, 2));
  check_malformed("H", "H");
  check_malformed("Hx1", "H");
  check_malformed("Hg", "H");
  check_malformed("Hgz", "H");
}

TEST_CASE("T", "[requests]") {
  CHECK(is_id(parse_as<req::ThreadAlive>("T3").thread, 3));
  CHECK(is_id(parse_as<req::ThreadAlive>("Tp1.4").thread, 4));
  check_malformed("T", "T");
  check_malformed("Tq", "T");
}

TEST_CASE("thread queries", "[requests]") {
  parse_as<req::ThreadInfoFirst>("qfThreadInfo");
  parse_as<req::ThreadInfoNext>("qsThreadInfo");
  parse_as<req::CurrentThread>("qC");
  parse_as<req::Attached>("qAttached");
  parse_as<req::Attached>("qAttached:1");
  CHECK(is_id(parse_as<req::ThreadExtraInfo>("qThreadExtraInfo,2").thread, 2));
  CHECK(is_id(parse_as<req::ThreadExtraInfo>("qThreadExtraInfo,p1.2").thread, 2));
  check_malformed("qfThreadInfo:1", "qfThreadInfo");
  check_malformed("qC,1", "qC");
  check_malformed("qAttached:zz", "qAttached");
  check_malformed("qAttached,1", "qAttached");
  check_malformed("qThreadExtraInfo", "qThreadExtraInfo");
  check_malformed("qThreadExtraInfo,", "qThreadExtraInfo");
  check_malformed("qThreadExtraInfo:1", "qThreadExtraInfo");
  // qCRC is its own packet, not qC with arguments.
  check_unknown("qCRC:1000,10");
  check_unknown("qfThreadInfoX");
  // lldb's qThreadStopInfo: the id follows the name directly.
  CHECK(is_id(parse_as<req::ThreadStopInfo>("qThreadStopInfo3").thread, 3));
  CHECK(is_id(parse_as<req::ThreadStopInfo>("qThreadStopInfo1f").thread, 0x1f));
  check_malformed("qThreadStopInfo", "qThreadStopInfo");
  check_malformed("qThreadStopInfo-1", "qThreadStopInfo");
  check_malformed("qThreadStopInfozz", "qThreadStopInfo");
}

TEST_CASE("vCont", "[requests]") {
  parse_as<req::VContQuery>("vCont?");
  check_malformed("vCont?;c", "vCont?");
  check_unknown("vCont?x");  // another name

  const auto v = parse_as<req::VCont>("vCont;s:p1.2;C0b:3;S05;t:-1;c");
  REQUIRE(v.actions.size() == 5);
  CHECK(v.actions[0].op == 's');
  REQUIRE(v.actions[0].thread);
  CHECK(is_id(*v.actions[0].thread, 2));
  CHECK(v.actions[1].op == 'C');
  CHECK(v.actions[1].signal == 0x0b);
  CHECK(is_id(*v.actions[1].thread, 3));
  CHECK(v.actions[2].op == 'S');
  CHECK(v.actions[2].signal == 5);
  CHECK_FALSE(v.actions[2].thread);
  CHECK(v.actions[3].op == 't');
  CHECK(v.actions[3].thread->kind == ThreadSel::Kind::All);
  CHECK(v.actions[4].op == 'c');
  CHECK(v.actions[4].signal == 0);
  CHECK_FALSE(v.actions[4].thread);

  check_malformed("vCont", "vCont");
  check_malformed("vCont;", "vCont");
  check_malformed("vCont;c;", "vCont");
  check_malformed("vCont;x", "vCont");
  check_malformed("vCont;c5", "vCont");
  check_malformed("vCont;C", "vCont");
  check_malformed("vCont;C123", "vCont");
  check_malformed("vCont;Czz", "vCont");
  check_malformed("vCont;c:", "vCont");
  check_malformed("vCont;c:zz", "vCont");
  check_malformed("vCont;r1000,2000:1", "vCont");
  check_malformed("vCont,c", "vCont");
  check_unknown("vContX");
}

TEST_CASE("c, C, s, S", "[requests]") {
  const auto c = parse_as<req::Continue>("c");
  CHECK_FALSE(c.addr);
  CHECK(c.signal == 0);
  CHECK(parse_as<req::Continue>("c400000").addr == 0x400000u);
  const auto csig = parse_as<req::Continue>("C0b");
  CHECK(csig.signal == 0x0b);
  CHECK_FALSE(csig.addr);
  const auto csig_addr = parse_as<req::Continue>("C05;1000");
  CHECK(csig_addr.signal == 5);
  CHECK(csig_addr.addr == 0x1000u);
  check_malformed("cz", "c");
  check_malformed("C", "C");
  check_malformed("Czz", "C");
  check_malformed("C100", "C");
  check_malformed("C05;", "C");
  check_malformed("C05;q", "C");

  CHECK_FALSE(parse_as<req::Step>("s").addr);
  CHECK(parse_as<req::Step>("s10").addr == 0x10u);
  const auto ssig = parse_as<req::Step>("S02;20");
  CHECK(ssig.signal == 2);
  CHECK(ssig.addr == 0x20u);
  check_malformed("s;", "s");
  check_malformed("S", "S");
  check_malformed("S0x", "S");
}

TEST_CASE("D and k", "[requests]") {
  parse_as<req::Detach>("D");
  parse_as<req::Detach>("D;1");
  check_malformed("D;", "D");
  check_malformed("D1", "D");
  check_malformed("D;z", "D");
  parse_as<req::Kill>("k");
}

TEST_CASE("qRcmd", "[requests]") {
  CHECK(parse_as<req::Monitor>("qRcmd,68656c70").command == "help");
  CHECK(parse_as<req::Monitor>("qRcmd,").command.empty());  // bare `monitor`
  CHECK(parse_as<req::Monitor>("qRcmd,7663707520320a").command == "vcpu 2\n");
  check_malformed("qRcmd", "qRcmd");
  check_malformed("qRcmd,6", "qRcmd");
  check_malformed("qRcmd,zz", "qRcmd");
  check_malformed("qRcmd:68", "qRcmd");
}

TEST_CASE("Z and z", "[requests]") {
  auto z = parse_as<req::Breakpoint>("Z0,40000010,4");
  CHECK((z.insert && z.type == 0 && z.addr == 0x40000010 && z.kind == 4));
  auto w = parse_as<req::Breakpoint>("z2,4000a000,8");
  CHECK((!w.insert && w.type == 2 && w.addr == 0x4000a000 && w.kind == 8));
  CHECK(parse_as<req::Breakpoint>("Z4,ffff000000001000,1").type == 4);
  check_malformed("Z5,1000,4", "Z");
  check_malformed("Z0,1000", "Z");
  check_malformed("Z0", "Z");
  check_malformed("z0,zz,4", "z");
  check_malformed("Z0,1000,4;X1,0", "Z");
}

TEST_CASE("unknown packets are passed through", "[requests]") {
  for (const char* p : {"qTStatus", "vMustReplyEmpty", "qSymbol::", "qTfV", "qOffsets", "QThreadEvents:1", "vFile:open:",
                        "R00", "A", "i", "qL1200000000000000000", "qGetTLSAddr:1,2,3", "QPassSignals:e", "vFlashDone"}) {
    check_unknown(p);
  }
  CHECK(parse_as<req::Unknown>("").payload.empty());
}

TEST_CASE("extended-remote packets: !, vAttach, vKill, vRun", "[requests]") {
  parse_as<req::ExtendedMode>("!");
  CHECK(parse_as<req::AttachProcess>("vAttach;1a2b").pid == 0x1a2b);
  CHECK(parse_as<req::KillProcess>("vKill;1").pid == 1);
  CHECK(parse_as<req::RunProcess>("vRun;").payload == "vRun;");
  check_malformed("vAttach", "vAttach");
  check_malformed("vAttach;", "vAttach");
  check_malformed("vAttach;zz", "vAttach");
  check_malformed("vAttach;0", "vAttach");
  check_malformed("vKill;100000000", "vKill");
  check_malformed("!1", "!");
}

TEST_CASE("error messages quote long payloads only in part", "[requests]") {
  const std::string huge = "G" + std::string(0x1000, '0') + "z";
  auto r = parse_request(huge);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.size() < 200);
  CHECK(r.error().message.find("'G'") != std::string::npos);
}
