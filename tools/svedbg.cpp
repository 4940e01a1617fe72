// svedbg: the daemon's command line.
//
//   svedbg serve (--sim | --core FILE) [--listen HOST:PORT|unix:PATH] [--tdesc-vl max|effective|BITS]
//                [--sim-vcpus N] [--sim-max-vl BITS] [--sim-vl BITS[,BITS...]]
//   svedbg dump (--sim [sim options] | --core FILE) --format json|elf [--memory]
//               [--sve-notes gdb13|uniform|effective] -o FILE
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gdbstub/transport.hpp"
#include "introspect/core_backend.hpp"
#include "introspect/dump.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim_backend.hpp"

namespace {

using namespace svedbg;

constexpr const char* kSimFixture = R"(
The simulated guest (--sim) models the KVM register API: VLS bitmap,
finalization, registers stored at the maximum VL and zero-padded, the
effective VL from ZCR_EL1. Default fixture:
  4 vCPUs (gdb threads 1..4), enabled VLs 128..2048 bits (VLS vq 1..16),
  effective VL of vCPU c = 2048, 512, 128, 256 bits for c = 0, 1, 2, 3.
  For vCPU c with effective VL of L bytes:
    byte b of Zn = (c*37 + n*11 + b) mod 256 for b < L, zero above;
    byte b of Pn = (c*5 + n*3 + b) mod 256 for b < L/8, zero above;
    FFR = 0xff for b < L/8, zero above;
    xN = 0x1000*c + N; sp = 0x80000000 + 0x1000*c; pc = 0x40000000;
    cpsr = 0x3c5 (EL1h, DAIF masked); fpsr = fpcr = 0; ZCR_EL1.LEN = L/16 - 1.
  RAM: 1 MiB at 0x40000000 (MMU off: addresses are physical). Bytes
  0x40000000..0x40000ffb hold NOP (0xd503201f) instructions, 0x40000ffc
  holds `b .`; at offset o >= 0x1000 the byte is o mod 251.
  Each NOP does pc += 4, x0 += 1. A single-step executes one instruction of
  that vCPU; `continue` runs all vCPUs, one instruction each in turn, until
  a breakpoint (break/hbreak) or Ctrl-C.
  `monitor sim set-vl VCPU BITS` (VCPU 0-based = gdb thread VCPU+1) writes
  ZCR_EL1 as the guest would; Z/P/FFR bytes above the new VL become zero.
  `kill` resets the guest to this fixture.
)";

std::vector<unsigned> parse_bits_list(const std::string& text) {
  std::vector<unsigned> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 5)
      throw CLI::ValidationError("--sim-vl", "expected a comma-separated list of bit counts, got '" + text + "'");
    unsigned bits = static_cast<unsigned>(std::stoul(item));
    if (bits == 0 || bits % 128 != 0 || bits > 2048)
      throw CLI::ValidationError("--sim-vl", fmt::format("{} is not a vector length (128..2048, multiple of 128)", bits));
    out.push_back(bits / 128);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// `--core FILE`: the core file as a read-only guest; warnings go to stderr.
std::unique_ptr<introspect::CoreBackend> open_core(const std::string& path) {
  auto core = introspect::CoreBackend::open(path);
  if (!core) {
    std::fprintf(stderr, "svedbg: %s\n", core.error().message.c_str());
    return nullptr;
  }
  for (const auto& w : (*core)->warnings()) std::fprintf(stderr, "svedbg: warning: %s\n", w.c_str());
  return std::move(*core);
}

// The options of `dump` that choose and shape its guest.
struct DumpArgs {
  bool sim = false;
  std::string core;
  std::string pid;
  unsigned vcpus = 4, max_vl = 2048;
  std::string sim_vl;
  std::string format;
  std::string output;
  bool memory = false;
  std::string sve_notes = "gdb13";
};

int dump(const DumpArgs& a) {
  if (!a.pid.empty()) {
    std::fprintf(stderr,
                 "svedbg dump: --pid (attaching to a running VMM) is not supported yet; dump the simulated "
                 "guest (--sim) or a core file (--core FILE)\n");
    return 2;
  }
  if (a.sim == !a.core.empty()) {
    std::fprintf(stderr, "svedbg dump: choose what to dump: --sim (the simulated guest) or --core FILE\n");
    return 2;
  }
  auto format = introspect::parse_dump_format(a.format);
  auto notes = introspect::parse_sve_notes(a.sve_notes);
  for (const auto* err : {format ? nullptr : &format.error(), notes ? nullptr : &notes.error()}) {
    if (!err) continue;
    std::fprintf(stderr, "svedbg dump: %s\n", err->message.c_str());
    return 2;
  }
  std::unique_ptr<introspect::Backend> backend;
  introspect::DumpSource source;
  if (a.sim) {
    introspect::SimConfig cfg;
    cfg.vcpus = a.vcpus;
    cfg.max_vq = a.max_vl / 128;
    if (!a.sim_vl.empty()) cfg.effective_vq = parse_bits_list(a.sim_vl);
    if (auto ok = introspect::SimBackend::check_config(cfg); !ok) {
      std::fprintf(stderr, "svedbg: %s\n", ok.error().message.c_str());
      return 2;
    }
    backend = std::make_unique<introspect::SimBackend>(cfg);
    source = {"sim", fmt::format("simulated guest: {} vCPUs, max VL {} bits, effective VLs {} bits", cfg.vcpus,
                                 cfg.max_vq * 128, a.sim_vl.empty() ? "2048,512,128,256" : a.sim_vl)};
  } else {
    auto core = open_core(a.core);
    if (!core) return 1;
    source = {"core", core->describe()};
    backend = std::move(core);
  }
  introspect::DumpRequest req{*format, a.output, a.memory, *notes, source};
  if (auto st = introspect::dump_guest(*backend, req); !st) {
    std::fprintf(stderr, "svedbg dump: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

int serve(bool sim, const std::string& core, const std::string& listen, const std::string& tdesc_vl, bool allow_sysreg_writes, bool read_only,
          unsigned vcpus, unsigned max_vl, const std::string& sim_vl) {
  if (sim == !core.empty()) {
    std::fprintf(stderr,
                 "svedbg serve: choose one backend: --sim (the simulated guest) or --core FILE (a core file). "
                 "Real KVM guests are served by VMMs linking libsvedbg.\n");
    return 2;
  }
  auto spec = gdbstub::parse_listen_spec(listen);
  if (!spec) {
    std::fprintf(stderr, "svedbg: %s\n", spec.error().message.c_str());
    return 2;
  }
  if (!spec->is_loopback())
    std::fprintf(stderr,
                 "svedbg: warning: listening on %s, which is not a loopback address: anyone who can reach it "
                 "can read and change the guest\n",
                 spec->to_string().c_str());
  auto mode = introspect::parse_tdesc_vl(tdesc_vl);
  if (!mode) {
    std::fprintf(stderr, "svedbg: %s\n", mode.error().message.c_str());
    return 2;
  }
  std::unique_ptr<introspect::Backend> backend;
  std::string what;
  if (core.empty()) {
    introspect::SimConfig cfg;
    cfg.vcpus = vcpus;
    cfg.max_vq = max_vl / 128;
    if (!sim_vl.empty()) cfg.effective_vq = parse_bits_list(sim_vl);
    if (auto ok = introspect::SimBackend::check_config(cfg); !ok) {
      std::fprintf(stderr, "svedbg: %s\n", ok.error().message.c_str());
      return 2;
    }
    backend = std::make_unique<introspect::SimBackend>(cfg);
    what = fmt::format("a simulated SVE guest ({} vCPUs, max VL {} bits", cfg.vcpus, cfg.max_vq * 128);
  } else {
    auto core_backend = open_core(core);
    if (!core_backend) return 1;
    what = fmt::format("{} (read-only", core_backend->describe());
    backend = std::move(core_backend);
  }
  auto target = introspect::GuestTarget::create(*backend, introspect::GuestOptions{*mode, allow_sysreg_writes, read_only});
  if (!target) {
    std::fprintf(stderr, "svedbg: %s\n", target.error().message.c_str());
    return 1;
  }
  gdbstub::Server server(**target);
  auto st = server.listen(*spec);
  if (!st) {
    std::fprintf(stderr, "svedbg: %s\n", st.error().message.c_str());
    return 1;
  }
  const auto& b = server.bound();
  std::string where = b.kind == gdbstub::ListenSpec::Kind::Unix ? b.path : b.to_string();
  std::printf("svedbg: serving %s, target description VL %u bits) on %s\n", what.c_str(),
              (*target)->description_vq() * 128, b.to_string().c_str());
  std::printf("svedbg: connect with: gdb-multiarch -ex 'target remote %s'\n", where.c_str());
  std::fflush(stdout);
  server.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svedbg: a GDB remote stub for arm64 KVM guests with SVE"};
  app.require_subcommand(1);

  auto* serve_cmd = app.add_subcommand("serve", "Serve a guest's vCPUs to gdb over the remote protocol");
  bool sim = false;
  std::string listen = "127.0.0.1:1234";
  std::string tdesc_vl = "max";
  unsigned vcpus = 4, max_vl = 2048;
  bool allow_sysreg_writes = false;
  bool read_only = false;
  std::string sim_vl;
  serve_cmd->add_flag("--sim", sim, "Serve the built-in simulated SVE guest (see below)");
  serve_cmd->add_option("--listen", listen, "HOST:PORT (TCP) or unix:PATH (socket created 0600)")
      ->capture_default_str();
  serve_cmd->add_option("--tdesc-vl", tdesc_vl,
                        "Target-description VL: max (largest enabled VL, default; right for gdb 13), "
                        "effective (per-thread effective VL, for clients that follow vg, e.g. lldb), or BITS")
      ->capture_default_str();
  serve_cmd->add_flag("--read-only", read_only,
                      "Refuse every register, memory and state-changing monitor write from gdb");
  serve_cmd->add_flag("--allow-sysreg-writes", allow_sysreg_writes,
                      "Let gdb write the EL1 system registers (read-only by default)");
  serve_cmd->add_option("--sim-vcpus", vcpus, "Simulated vCPUs")->check(CLI::Range(1, 64))->capture_default_str();
  serve_cmd->add_option("--sim-max-vl", max_vl, "Largest enabled VL in bits (VLS = 128..BITS)")
      ->check(CLI::Range(128, 2048))
      ->check([](const std::string& s) { return std::stoul(s) % 128 == 0 ? "" : "must be a multiple of 128"; })
      ->capture_default_str();
  serve_cmd->add_option("--sim-vl", sim_vl,
                        "Effective VL of each vCPU in bits, comma-separated, cycled (default 2048,512,128,256)");
  std::string core;
  serve_cmd->add_option("--core", core, "Serve an arm64 ELF core file (svedbg dump or gcore), read-only");
  serve_cmd->footer(kSimFixture);

  auto* dump_cmd = app.add_subcommand("dump", "Write every vCPU's state (and guest RAM) to a JSON or ELF core file");
  DumpArgs da;
  dump_cmd->add_flag("--sim", da.sim, "Dump the built-in simulated SVE guest (options as for serve)");
  dump_cmd->add_option("--core", da.core, "Dump an arm64 ELF core file (e.g. to JSON)");
  dump_cmd->add_option("--pid", da.pid, "Attach to a running VMM (not supported yet)");
  dump_cmd->add_option("--sim-vcpus", da.vcpus, "Simulated vCPUs")->check(CLI::Range(1, 64))->capture_default_str();
  dump_cmd->add_option("--sim-max-vl", da.max_vl, "Largest enabled VL in bits (VLS = 128..BITS)")
      ->check(CLI::Range(128, 2048))
      ->check([](const std::string& s) { return std::stoul(s) % 128 == 0 ? "" : "must be a multiple of 128"; })
      ->capture_default_str();
  dump_cmd->add_option("--sim-vl", da.sim_vl,
                       "Effective VL of each vCPU in bits, comma-separated, cycled (default 2048,512,128,256)");
  dump_cmd->add_option("--format", da.format, "json (docs/dump-schema.json) or elf (an arm64 core for gdb -c)")
      ->required();
  dump_cmd->add_option("-o,--output", da.output, "Output file; - is stdout (json only)")->required();
  dump_cmd->add_flag("--memory", da.memory, "Include guest RAM (ELF: PT_LOAD at guest-physical addresses)");
  dump_cmd->add_option("--sve-notes", da.sve_notes,
                       "ELF NT_ARM_SVE shape when vCPUs' VLs differ: gdb13 (default: gdb 13 shows what the live "
                       "stub shows), uniform (all at the largest VL), effective (each at its own VL, as Linux)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*dump_cmd) return dump(da);
    if (*serve_cmd) return serve(sim, core, listen, tdesc_vl, allow_sysreg_writes, read_only, vcpus, max_vl, sim_vl);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  return 0;
}
