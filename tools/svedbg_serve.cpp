// `svedbg serve`: one guest served to one gdb client at a time
// (gdbstub::Server); with --multi, svedbg_serve_multi.cpp.
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_fixture.hpp"
#include "tools/serve_listen.hpp"
#include "tools/svedbg_serve.hpp"

namespace svedbg::cli {

namespace {

// The gdb extension that shows SVE registers at each vCPU's own VL (`info
// sve`, `sve print`, $_sve_vl(), $_sve_lanes()): the installed copy
// (PREFIX/share/svedbg/ beside PREFIX/bin/svedbg), else the source tree's;
// empty when neither is readable.
std::string gdb_extension_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share/svedbg/svedbg-sve.py");
  candidates.emplace_back(SVEDBG_GDB_EXTENSION);
  for (const auto& p : candidates)
    if (::access(p.c_str(), R_OK) == 0) return fs::weakly_canonical(p, ec).string();
  return {};
}

// The daemon's access policy from the options; nullopt after printing why not.
std::optional<gdbstub::AccessPolicy> access_policy(const ServeArgs& a) {
  gdbstub::AccessPolicy policy;
  policy.daemon_uid = ::geteuid();
  policy.allow_unauthenticated = a.allow_remote_unauthenticated;
  if (!a.admin_group.empty()) {
    std::vector<char> buf(16384);
    group gr{};
    group* found = nullptr;
    if (::getgrnam_r(a.admin_group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found) {
      std::fprintf(stderr, "svedbg: --admin-group %s: no such group\n", a.admin_group.c_str());
      return std::nullopt;
    }
    policy.admin_gid = gr.gr_gid;
    policy.admin_group = a.admin_group;
  }
  return policy;
}

// --socket-mode, or the default for the mode of serving.
std::optional<unsigned> socket_mode(const ServeArgs& a) {
  if (a.socket_mode.empty()) return a.multi ? 0666u : 0600u;
  if (a.socket_mode.size() > 4 || a.socket_mode.find_first_not_of("01234567") != std::string::npos) {
    std::fprintf(stderr, "svedbg: --socket-mode: expected an octal mode such as 0660, got '%s'\n",
                 a.socket_mode.c_str());
    return std::nullopt;
  }
  return static_cast<unsigned>(std::stoul(a.socket_mode, nullptr, 8));
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

// The access policy and socket mode into `limits`; false after printing why
// not. A --pid guest is owned by the VMM's uid, any other by the daemon's.
bool server_access(const GuestArgs& g, const ServeArgs& a, gdbstub::ServerOptions& limits) {
  auto policy = access_policy(a);
  auto mode = socket_mode(a);
  if (!policy || !mode) return false;
  limits.access = *policy;
  limits.unix_mode = *mode;
  struct stat sb {};
  const std::string proc = fmt::format("/proc/{}", g.pid);
  if (g.pid != 0 && ::stat(proc.c_str(), &sb) == 0) limits.guest_owner = sb.st_uid;
  return true;
}

void server_limits(const ServeArgs& a, gdbstub::ServerOptions& limits) {
  limits.handshake_timeout = to_ms(a.handshake_timeout);
  limits.idle_timeout = to_ms(a.idle_timeout);
  limits.write_stall_timeout = to_ms(a.write_stall_timeout);
  // What a service manager or a terminal sends to end a daemon: each one
  // stops it cleanly, removing its unix socket file.
  limits.stop_signals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
}

namespace {

int serve(const GuestArgs& g, const ServeArgs& a) {
  if (a.multi) return serve_multi(g, a);
  // --listen ADDRESS, or the socket a service manager passed (tools/serve_listen.hpp).
  auto listener = cli::Listener::choose(a.listen, a.listen_given);
  if (!listener) {
    std::fprintf(stderr, "svedbg: %s\n", listener.error().message.c_str());
    return 2;
  }
  auto mode = introspect::parse_tdesc_vl(a.tdesc_vl);
  if (!mode) {
    std::fprintf(stderr, "svedbg: %s\n", mode.error().message.c_str());
    return 2;
  }
  int failure = 0;
  auto guest = open_guest(g, "serve", failure);
  if (!guest) return failure;
  auto target = introspect::GuestTarget::create(*guest->backend,
                                                introspect::GuestOptions{*mode, a.allow_sysreg_writes, a.read_only});
  if (!target) {
    std::fprintf(stderr, "svedbg: %s\n", target.error().message.c_str());
    return 1;
  }
  // An attached VMM runs on until a client connects (GuestTarget::attach stops it again).
  if (g.pid != 0) guest->backend->detach();
  gdbstub::ServerOptions limits;
  if (!server_access(g, a, limits)) return 2;
  server_limits(a, limits);
  gdbstub::Server server(**target, {}, limits);
  auto st = listener->open(server);
  if (!st) {
    std::fprintf(stderr, "svedbg: %s\n", st.error().message.c_str());
    return 1;
  }
  const auto& b = server.bound();
  std::string where = b.kind == gdbstub::ListenSpec::Kind::Unix ? b.path : b.to_string();
  std::printf("svedbg: serving %s; target description VL %u bits; on %s\n", guest->description.c_str(),
              (*target)->description_vq() * 128, b.to_string().c_str());
  const std::string ext = gdb_extension_path();
  std::printf("svedbg: connect with: gdb-multiarch -ex 'target remote %s'%s\n", where.c_str(),
              ext.empty() ? "" : ("; for SVE lanes at each vCPU's own VL: source " + ext).c_str());
  std::fflush(stdout);
  server.run();
  return 0;
}

class ServeCommand : public Subcommand {
 public:
  explicit ServeCommand(CLI::App& parent) {
    app = parent.add_subcommand("serve", "Serve a guest's vCPUs to gdb over the remote protocol");
    guest_.add_to(app, "Serve the built-in simulated SVE guest (see below)");
    listen_opt_ =
        app->add_option("--listen", args_.listen,
                        "HOST:PORT (TCP), unix:PATH (socket created 0600) or systemd (the socket a service manager "
                        "passed: LISTEN_FDS, svedbg.socket; used without --listen too)")
            ->capture_default_str();
    app->add_option("--tdesc-vl", args_.tdesc_vl,
                    "Target-description VL: max (largest enabled VL, default; right for gdb-multiarch 13.1 and "
                    "lldb 14, tests/e2e/test_registers.py, test_lldb.py), effective (each thread sized by its own "
                    "effective VL: for lldb 14 only; no gdb release through 17 can resize a remote target's "
                    "registers, so a gdb client (qSupported qRelocInsn+) is served max and the daemon logs why), "
                    "or BITS")
        ->capture_default_str();
    app->add_flag("--read-only", args_.read_only,
                  "Refuse every register, memory and state-changing monitor write from gdb");
    app->add_option("--handshake-timeout", args_.handshake_timeout,
                    "Drop a connection that sends no valid packet within SECONDS (0: never); the guest is only "
                    "stopped by a client's first packet")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    app->add_option("--idle-timeout", args_.idle_timeout,
                    "Drop a client that sends nothing for SECONDS while the guest is stopped, and resume the guest "
                    "as on detach (0: never, the default: a user may sit at a breakpoint for hours)")
        ->check(CLI::Range(0.0, 31536000.0))
        ->capture_default_str();
    app->add_option("--write-stall-timeout", args_.write_stall_timeout,
                    "Disconnect a client that consumes none of its pending output for SECONDS")
        ->check(CLI::Range(0.1, 86400.0))
        ->group("");
    app->add_flag("--multi", args_.multi,
                  "Serve every KVM VMM of this host (with --sim: the simulated guest) to several clients at "
                  "once: gdb-multiarch -ex 'target extended-remote ADDR', `info os processes`, `attach PID`, "
                  "`detach` (docs/multi.md)");
    app->add_flag("--allow-kill", args_.allow_kill,
                  "With --multi: let a client's `kill` kill the VMM it attached (refused by default)");
    app->add_option("--admin-group", args_.admin_group,
                    "Members of this group may debug every user's VMMs (others only their own; root all)");
    app->add_flag("--allow-remote-unauthenticated", args_.allow_remote_unauthenticated,
                  "Serve TCP peers that are not on loopback (they have no identity): they may debug only the "
                  "VMMs of the daemon's own uid");
    app->add_option("--socket-mode", args_.socket_mode,
                    "Mode of the unix socket file, octal (default 0600; 0666 with --multi, which checks each "
                    "peer's uid)");
    app->add_flag("--allow-sysreg-writes", args_.allow_sysreg_writes,
                  "Let gdb write the EL1 system registers (read-only by default)");
    app->footer("\n" + std::string(introspect::sim_fixture_text()));
  }
  int run() override {
    args_.listen_given = listen_opt_->count() > 0;
    return serve(guest_, args_);
  }

 private:
  GuestArgs guest_;
  ServeArgs args_;
  CLI::Option* listen_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Subcommand> add_serve(CLI::App& app) { return std::make_unique<ServeCommand>(app); }

}  // namespace svedbg::cli
