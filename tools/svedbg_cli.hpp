// The svedbg command line, split by subcommand: what the subcommands share.
//
// Contract: main() (tools/svedbg.cpp) asks each subcommand file to register
// its CLI11 subcommand and options (add_serve, add_dump, add_ps, in that
// order, which is the order of `svedbg --help` and so of the man page,
// dist/make-man.py) and runs the one the user chose. `serve` and `dump`
// choose their guest with the same options (GuestArgs: --sim, --core, --pid,
// --mem, --vcpus and the --sim-* shape) and open it with open_guest(), which
// prints why not on stderr and gives the exit code: 2 for bad options, 1 for
// a guest that cannot be opened. A subcommand's run() returns the process's
// exit code; a CLI::Error it throws (a bad --sim-vl) is reported by CLI11.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kvm/backend.hpp"

namespace svedbg::cli {

// The options of `serve` and `dump` that choose the guest and shape the
// simulated one.
struct GuestArgs {
  bool sim = false;
  std::string core;
  long pid = 0;                  // --pid: attach to a running VMM
  std::vector<std::string> mem;  // --mem GPA:SIZE[@HVA] (with --pid)
  unsigned vcpus = 4, max_vl = 2048, ram_mib = 1;
  std::string sim_vl;
  std::string vcpu_list;  // --vcpus: serve a subset

  void add_to(CLI::App* cmd, const char* sim_help);
};

// The chosen guest as a Backend, with a one-line description for banners.
struct OpenedGuest {
  std::unique_ptr<kvm::Backend> backend;
  std::string description;
};

// The whole guest; nullopt after printing why not, with the exit code in
// `failure` (2 for bad options, 1 for a guest that cannot be opened).
// `command` names the subcommand in messages.
std::optional<OpenedGuest> open_whole_guest(const GuestArgs& a, const char* command, int& failure);
// The guest, or with --vcpus the listed vCPUs of it (gdb thread N = the
// N-th listed vCPU); as open_whole_guest otherwise.
std::optional<OpenedGuest> open_guest(const GuestArgs& a, const char* command, int& failure);

// One subcommand: its CLI11 App (set by the add_* function) and what runs
// when the user chose it.
class Subcommand {
 public:
  virtual ~Subcommand() = default;
  virtual int run() = 0;
  CLI::App* app = nullptr;
};

std::unique_ptr<Subcommand> add_serve(CLI::App& app);  // tools/svedbg_serve.cpp
std::unique_ptr<Subcommand> add_dump(CLI::App& app);   // tools/svedbg_dump.cpp
std::unique_ptr<Subcommand> add_ps(CLI::App& app);     // tools/svedbg_ps.cpp

}  // namespace svedbg::cli
