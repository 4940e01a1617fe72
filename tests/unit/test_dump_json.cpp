// introspect::dump_json and dump_guest: the JSON document of the simulated
// guest's documented fixture, vCPUs without SVE, memory, output files and
// the stop/resume of a running guest around a dump.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "introspect/dump.hpp"
#include "introspect/dump_json.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/vcpu_snapshot.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

std::string render(SimBackend& sim, bool memory) {
  auto snaps = take_snapshots(sim);
  REQUIRE(snaps.ok());
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = ::open_memstream(&buf, &len);
  REQUIRE(f);
  const Status s = write_json_dump(f, DumpSource{"sim", "test \"fixture\""}, *snaps, memory ? &sim : nullptr);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  INFO((s ? std::string("ok") : s.error().message));
  REQUIRE(s.ok());
  return out;
}

std::string z_hex(unsigned c, unsigned n, unsigned bytes) {
  std::string s;
  for (unsigned b = 0; b < bytes; ++b) s += fmt::format("{:02x}", SimBackend::fixture_z_byte(c, n, b));
  return s;
}

std::string p_hex(unsigned c, unsigned n, unsigned bytes) {
  std::string s;
  for (unsigned b = 0; b < bytes; ++b) s += fmt::format("{:02x}", SimBackend::fixture_p_byte(c, n, b));
  return s;
}

// The text of vCPU `c`'s object (from its "index" to the next one).
std::string vcpu_text(const std::string& doc, unsigned c) {
  const auto at = doc.find(fmt::format("\"index\": {},", c));
  REQUIRE(at != std::string::npos);
  const auto end = doc.find("\"index\": ", at + 1);
  return doc.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/svedbg-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() {
    for (const auto& f : files()) ::unlink((path + "/" + f).c_str());
    ::rmdir(path.c_str());
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
      while (auto* e = ::readdir(d))
        if (e->d_name[0] != '.') out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("JSON dump of the sim fixture: header, VLs, core and system registers") {
  SimBackend sim(SimConfig{});
  const std::string doc = render(sim, false);
  CHECK(doc.find("\"svedbg_dump\": 1,") != std::string::npos);
  CHECK(doc.find(R"("source": {"kind": "sim", "detail": "test \"fixture\""})") != std::string::npos);
  CHECK(doc.find("\"memory\"") == std::string::npos);
  const unsigned bits[] = {2048, 512, 128, 256};
  for (unsigned c = 0; c < 4; ++c) {
    const std::string v = vcpu_text(doc, c);
    INFO("vCPU " << c);
    CHECK(v.find("\"sve\": true") != std::string::npos);
    CHECK(v.find("\"vls\": [128, 256, 384, ") != std::string::npos);
    CHECK(v.find(", 2048],") != std::string::npos);
    CHECK(v.find("\"max_vl\": 2048,") != std::string::npos);
    CHECK(v.find(fmt::format("\"effective_vl\": {},", bits[c])) != std::string::npos);
    CHECK(v.find(fmt::format("\"x7\": \"{:#x}\"", 0x1000 * c + 7)) != std::string::npos);
    CHECK(v.find(fmt::format("\"sp\": \"{:#x}\"", 0x80000000 + 0x1000 * c)) != std::string::npos);
    CHECK(v.find("\"pc\": \"0x40000000\", \"pstate\": \"0x3c5\"") != std::string::npos);
    CHECK(v.find("\"fpsr\": \"0x0\"") != std::string::npos);
    CHECK(v.find(fmt::format("\"zcr_el1\": \"{:#x}\"", bits[c] / 128 - 1)) != std::string::npos);
    CHECK(v.find(fmt::format("\"mpidr_el1\": \"{:#x}\"", 0x80000000 + c)) != std::string::npos);
    CHECK(v.find("\"sctlr_el1\": \"0x30d00800\"") != std::string::npos);
    CHECK(v.find("\"midr_el1\": \"0x410fd4f0\"") != std::string::npos);
    CHECK(v.find("sysreg_errors") == std::string::npos);
    CHECK(v.find("\"v\":") == std::string::npos);
  }
}

TEST_CASE("JSON dump: Z/P/FFR are hex at the effective VL, byte 0 first") {
  SimBackend sim(SimConfig{});
  const std::string doc = render(sim, false);
  const unsigned bytes[] = {256, 64, 16, 32};
  for (unsigned c = 0; c < 4; ++c) {
    const std::string v = vcpu_text(doc, c);
    const unsigned L = bytes[c];
    INFO("vCPU " << c);
    CHECK(v.find("\"z\": [\"" + z_hex(c, 0, L) + "\", \"" + z_hex(c, 1, L) + "\"") != std::string::npos);
    CHECK(v.find("\"" + z_hex(c, 31, L) + "\"]") != std::string::npos);
    CHECK(v.find("\"p\": [\"" + p_hex(c, 0, L / 8) + "\"") != std::string::npos);
    CHECK(v.find("\"" + p_hex(c, 15, L / 8) + "\"]") != std::string::npos);
    CHECK(v.find("\"ffr\": \"" + std::string(L / 4, 'f') + "\"") != std::string::npos);
  }
}

TEST_CASE("JSON dump: a vCPU without SVE has v instead of z/p/ffr, and no ZCR_EL1") {
  SimConfig cfg;
  cfg.vcpus = 2;
  cfg.sve = {true, false};
  SimBackend sim(cfg);
  const std::string v = vcpu_text(render(sim, false), 1);
  CHECK(v.find("\"sve\": false") != std::string::npos);
  CHECK(v.find("\"vls\": [],") != std::string::npos);
  CHECK(v.find("\"max_vl\": 128,") != std::string::npos);
  CHECK(v.find("\"effective_vl\": 128,") != std::string::npos);
  CHECK(v.find("\"v\": [\"" + z_hex(1, 0, 16) + "\"") != std::string::npos);
  CHECK(v.find("\"z\":") == std::string::npos);
  CHECK(v.find("\"ffr\":") == std::string::npos);
  CHECK(v.find("zcr_el1") == std::string::npos);
}

TEST_CASE("JSON dump with memory: every RAM range, hex") {
  SimConfig cfg;
  cfg.ram_size = 0x1100;
  SimBackend sim(cfg);
  const std::string doc = render(sim, true);
  std::string want = "\"memory\": [\n    {\"gpa\": \"0x40000000\", \"size\": 4352, \"data\": \"";
  for (int i = 0; i < 4; ++i) want += "1f2003d5";
  const auto at = doc.find(want);
  REQUIRE(at != std::string::npos);
  const auto data = doc.find("\"data\": \"", at) + 9;
  const auto end = doc.find('"', data);
  CHECK(end - data == 2 * 0x1100);
  CHECK(doc.substr(data + 2 * 0x1000, 4) == fmt::format("{:02x}{:02x}", 0x1000 % 251, 0x1001 % 251));
}

TEST_CASE("dump_guest writes the file whole, or not at all") {
  TempDir dir;
  SimBackend sim(SimConfig{});
  const std::string out = dir.path + "/dump.json";
  DumpRequest req{DumpFormat::Json, out, false, SveNotes::Gdb13, {"sim", "x"}};
  REQUIRE(dump_guest(sim, req).ok());
  CHECK(dir.files() == std::vector<std::string>{"dump.json"});
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  CHECK(ss.str().rfind("{\n  \"svedbg_dump\": 1,", 0) == 0);
  CHECK(ss.str().substr(ss.str().size() - 6) == "  ]\n}\n");

  req.format = DumpFormat::Elf;
  req.output = "-";
  const Status s = dump_guest(sim, req);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == EINVAL);
  CHECK(s.error().message.find("stdout") != std::string::npos);

  req.output = dir.path + "/no-such-dir/dump.elf";
  const Status s2 = dump_guest(sim, req);
  REQUIRE_FALSE(s2.ok());
  CHECK(s2.error().code == ENOENT);
  CHECK(dir.files() == std::vector<std::string>{"dump.json"});
}

TEST_CASE("dump_guest stops a running guest and resumes it afterwards; a stopped one stays stopped") {
  TempDir dir;
  SimBackend sim(SimConfig{});
  DumpRequest req{DumpFormat::Elf, dir.path + "/d.elf", true, SveNotes::Gdb13, {"sim", "x"}};
  REQUIRE(sim.resume({}, true).ok());
  REQUIRE(sim.running());
  REQUIRE(dump_guest(sim, req).ok());
  CHECK(sim.running());
  CHECK_FALSE(sim.poll_stop().has_value());

  sim.interrupt();
  (void)sim.poll_stop();
  REQUIRE_FALSE(sim.running());
  REQUIRE(dump_guest(sim, req).ok());
  CHECK_FALSE(sim.running());
}
