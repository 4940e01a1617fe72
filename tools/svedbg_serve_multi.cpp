// `svedbg serve --multi`: every KVM VMM of this host (with --sim: the
// simulated guest) served to several extended-remote clients at once
// (introspect::MultiHost, docs/multi.md).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "introspect/guest_target.hpp"
#include "introspect/multi_host.hpp"
#include "kvm/scan/vmm_find.hpp"
#include "tools/serve_listen.hpp"
#include "tools/svedbg_serve.hpp"
#if defined(__aarch64__)
#include "kvm/attach/attach_backend.hpp"
#endif

namespace svedbg::cli {

namespace {

// `serve --multi --sim`: the one simulated guest, listed under the daemon's
// own pid and uid; every client that attaches it gets a new GuestTarget over
// the same simulated guest, which lives as long as the daemon.
std::optional<introspect::MultiHostConfig> sim_host(const GuestArgs& g, int& failure) {
  auto guest = open_whole_guest(g, "serve", failure);
  if (!guest) return std::nullopt;
  std::shared_ptr<kvm::Backend> sim = std::move(guest->backend);
  gdbstub::ProcessInfo row{::getpid(), ::geteuid(), "svedbg serve --multi --sim: " + guest->description,
                           static_cast<unsigned>(sim->vcpu_count())};
  introspect::MultiHostConfig config;
  config.list = [row]() -> Result<std::vector<gdbstub::ProcessInfo>> { return std::vector{row}; };
  config.open = [sim](long) -> Result<std::shared_ptr<kvm::Backend>> { return sim; };
  return config;
}

// `serve --multi`: the KVM VMMs of the same scan as `svedbg ps`, each
// attached as `serve --pid` attaches it (arm64 builds).
introspect::MultiHostConfig kvm_host() {
  introspect::MultiHostConfig config;
  config.list = []() -> Result<std::vector<gdbstub::ProcessInfo>> {
    auto scan = kvm::scan_vmms();
    if (!scan) return scan.error();
    std::vector<gdbstub::ProcessInfo> rows;
    for (const auto& v : scan->vmms) {
      std::string command;
      for (const auto& arg : v.cmdline) command += (command.empty() ? "" : " ") + arg;
      if (command.empty()) command = v.comm;
      rows.push_back({v.pid, static_cast<uid_t>(v.uid), command, static_cast<unsigned>(v.vcpus.size())});
    }
    return rows;
  };
  config.open = [](long pid) -> Result<std::shared_ptr<kvm::Backend>> {
#if defined(__aarch64__)
    auto attached = kvm::AttachBackend::attach(static_cast<pid_t>(pid));
    if (!attached) return attached.error();
    return std::shared_ptr<kvm::Backend>(std::move(*attached));
#else
    return make_error(ENOSYS, "attaching pid {} needs an arm64 build of svedbg (tools/cross-build)", pid);
#endif
  };
  config.release_after_create = true;
  return config;
}

}  // namespace

int serve_multi(const GuestArgs& g, const ServeArgs& a) {
  if (!g.core.empty() || g.pid != 0 || !g.mem.empty() || !g.vcpu_list.empty()) {
    std::fprintf(stderr,
                 "svedbg serve --multi: clients choose the VMM with `attach PID`; --pid, --core, --mem and --vcpus "
                 "do not go with it (--sim serves the simulated guest instead of KVM VMMs)\n");
    return 2;
  }
  // --listen ADDRESS, or the socket a service manager passed (svedbg.service).
  auto listener = cli::Listener::choose(a.listen, a.listen_given, /*warn_not_loopback=*/false);
  auto mode = introspect::parse_tdesc_vl(a.tdesc_vl);
  for (const auto* err : {listener ? nullptr : &listener.error(), mode ? nullptr : &mode.error()}) {
    if (!err) continue;
    std::fprintf(stderr, "svedbg: %s\n", err->message.c_str());
    return 2;
  }
  gdbstub::ServerOptions limits;
  if (!server_access(g, a, limits)) return 2;
  if (const auto& spec = listener->spec(); spec && spec->kind == gdbstub::ListenSpec::Kind::Tcp && !spec->is_loopback())
    std::fprintf(stderr,
                 "svedbg: warning: listening on %s, which is not a loopback address: peers there have no identity "
                 "and are %s\n",
                 spec->to_string().c_str(),
                 a.allow_remote_unauthenticated
                     ? "allowed (--allow-remote-unauthenticated) to debug every VMM of the daemon's own uid"
                     : "refused (see --allow-remote-unauthenticated)");
  int failure = 0;
  std::optional<introspect::MultiHostConfig> config;
  if (g.sim) {
    config = sim_host(g, failure);
    if (!config) return failure;
  } else {
    config = kvm_host();
  }
  config->guest = introspect::GuestOptions{*mode, a.allow_sysreg_writes, a.read_only};
  introspect::MultiHost host(std::move(*config));
  server_limits(a, limits);
  gdbstub::MultiOptions multi;
  multi.allow_kill = a.allow_kill;
  gdbstub::Server server(host, multi, {}, limits);
  if (auto st = listener->open(server); !st) {
    std::fprintf(stderr, "svedbg: %s\n", st.error().message.c_str());
    return 1;
  }
  const auto& b = server.bound();
  std::string where = b.kind == gdbstub::ListenSpec::Kind::Unix ? b.path : b.to_string();
  std::printf("svedbg: serving %s to several clients (extended-remote); on %s\n",
              g.sim ? "the simulated guest" : "this host's KVM VMMs", b.to_string().c_str());
  std::printf(
      "svedbg: connect with: gdb-multiarch -ex 'target extended-remote %s', then `info os processes` and "
      "`attach PID`\n",
      where.c_str());
  std::fflush(stdout);
  server.run();
  return 0;
}

}  // namespace svedbg::cli
