// introspect::DumpTimes: dump_guest() reports how long its stop, register
// reads and write took (issue 18: the VMM's pause during a dump), and
// format_dump_times() is the line `svedbg dump --times` prints.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "introspect/dump.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;
using namespace svedbg::introspect;
using namespace std::chrono_literals;

TEST_CASE("format_dump_times prints every phase in ms, the read per vCPU and the total") {
  DumpTimes t;
  t.open = 1500us;
  t.stop = 250us;
  t.read = 4ms;
  t.write = 12345us;
  t.close = 1ms;
  t.vcpus = 8;
  CHECK(format_dump_times(t) ==
        "svedbg dump: times (ms): open 1.500, stop 0.250, read 4.000 (0.500 per vCPU), write 12.345, close 1.000; "
        "total 19.095");
  t.vcpus = 0;  // no vCPU read: no division by zero
  CHECK(format_dump_times(t).find("read 4.000 (0.000 per vCPU)") != std::string::npos);
}

TEST_CASE("dump_guest fills in DumpTimes when asked, and only then") {
  char dir[] = "/tmp/svedbg-dump-times.XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string out = std::string(dir) + "/d.elf";
  SimConfig cfg;
  cfg.vcpus = 3;
  SimBackend sim(cfg);
  REQUIRE(sim.resume({}, true).ok());  // running: the dump stops it
  DumpTimes times;
  DumpRequest req{DumpFormat::Elf, out, true, SveNotes::Gdb13, {"sim", "x"}};
  req.times = &times;
  REQUIRE(dump_guest(sim, req).ok());
  CHECK(times.vcpus == 3);
  CHECK(times.stop > 0ns);
  CHECK(times.read > 0ns);
  CHECK(times.write > 0ns);
  CHECK(times.open == 0ns);  // the caller's phases
  CHECK(times.close == 0ns);

  req.times = nullptr;  // not asked: nothing written anywhere
  REQUIRE(dump_guest(sim, req).ok());
  ::unlink(out.c_str());
  ::rmdir(dir);
}
