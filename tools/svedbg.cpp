// svedbg: the daemon's command line. Each subcommand lives in its own file
// (tools/svedbg_cli.hpp):
//
//   svedbg serve (--sim | --core FILE | --pid PID [--mem GPA:SIZE[@HVA] ...]) [--vcpus LIST] [--listen HOST:PORT|unix:PATH|systemd] [--tdesc-vl max|effective|BITS]
//                [--sim-vcpus N] [--sim-max-vl BITS] [--sim-vl BITS[,BITS...]] [--sim-mem MIB]
//   svedbg dump (--sim [sim options] | --core FILE | --pid PID [--mem ...]) --format json|elf [--memory]
//               [--sve-notes gdb13|uniform|effective] -o FILE
//   svedbg serve --multi [--sim] [--listen ...] [--allow-kill] [--admin-group NAME]
//                [--allow-remote-unauthenticated] [--socket-mode OCTAL]
//   svedbg ps [--vl] [--json]
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/svedbg_cli.hpp"

int main(int argc, char** argv) {
  using namespace svedbg;
  // A log line written to a pipe whose reader has gone must not kill the
  // daemon: the write fails with EPIPE, which stdio tolerates.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"svedbg: a GDB remote stub for arm64 KVM guests with SVE"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("svedbg ") + SVEDBG_VERSION);

  std::vector<std::unique_ptr<cli::Subcommand>> commands;
  commands.push_back(cli::add_serve(app));
  commands.push_back(cli::add_dump(app));
  commands.push_back(cli::add_ps(app));

  CLI11_PARSE(app, argc, argv);
  try {
    for (const auto& c : commands)
      if (*c->app) return c->run();
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  return 0;
}
