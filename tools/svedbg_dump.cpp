// `svedbg dump`: every vCPU's state (and guest RAM) to a JSON or ELF core
// file (introspect/dump.hpp).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "introspect/dump.hpp"
#include "tools/svedbg_cli.hpp"

namespace svedbg::cli {

namespace {

// The options of `dump` besides the guest.
struct DumpArgs {
  std::string format;
  std::string output;
  bool memory = false;
  std::string sve_notes = "gdb13";
  bool times = false;  // --times: each phase's duration on stderr (docs/scale.md)
};

int dump(const GuestArgs& g, const DumpArgs& a) {
  auto format = introspect::parse_dump_format(a.format);
  auto notes = introspect::parse_sve_notes(a.sve_notes);
  for (const auto* err : {format ? nullptr : &format.error(), notes ? nullptr : &notes.error()}) {
    if (!err) continue;
    std::fprintf(stderr, "svedbg dump: %s\n", err->message.c_str());
    return 2;
  }
  int failure = 0;
  introspect::DumpTimes times;
  auto t0 = std::chrono::steady_clock::now();
  auto guest = open_guest(g, "dump", failure);
  if (!guest) return failure;
  times.open = std::chrono::steady_clock::now() - t0;
  // "sim", "core", "kvm" (in-process) or "attach" (--pid), as `monitor dump json` says.
  introspect::DumpSource source{guest->backend->name(), guest->description};
  introspect::DumpRequest req{*format, a.output, a.memory, *notes, source};
  if (a.times) req.times = &times;
  if (auto st = introspect::dump_guest(*guest->backend, req); !st) {
    std::fprintf(stderr, "svedbg dump: %s\n", st.error().message.c_str());
    return 1;
  }
  t0 = std::chrono::steady_clock::now();
  guest.reset();  // --pid: detaches; the VMM runs again
  times.close = std::chrono::steady_clock::now() - t0;
  if (a.times) std::fprintf(stderr, "%s\n", introspect::format_dump_times(times).c_str());
  return 0;
}

class DumpCommand : public Subcommand {
 public:
  explicit DumpCommand(CLI::App& parent) {
    app = parent.add_subcommand("dump", "Write every vCPU's state (and guest RAM) to a JSON or ELF core file");
    guest_.add_to(app, "Dump the built-in simulated SVE guest (fixture as for serve --sim)");
    app->add_option("--format", args_.format, "json (docs/dump-schema.json) or elf (an arm64 core for gdb -c)")
        ->required();
    app->add_option("-o,--output", args_.output, "Output file; - is stdout (json only)")->required();
    app->add_flag("--memory", args_.memory, "Include guest RAM (ELF: PT_LOAD at guest-physical addresses)");
    app->add_option("--sve-notes", args_.sve_notes,
                    "ELF NT_ARM_SVE shape when vCPUs' VLs differ: gdb13 (default: gdb 13 shows what the live "
                    "stub shows), uniform (all at the largest VL), effective (each at its own VL, as Linux)")
        ->capture_default_str();
    app->add_flag("--times", args_.times,
                  "Print how long each phase took (open: --pid seizes and stops the VMM; read; write; close: "
                  "--pid detaches) on stderr");
  }
  int run() override { return dump(guest_, args_); }

 private:
  GuestArgs guest_;
  DumpArgs args_;
};

}  // namespace

std::unique_ptr<Subcommand> add_dump(CLI::App& app) { return std::make_unique<DumpCommand>(app); }

}  // namespace svedbg::cli
