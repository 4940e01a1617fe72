// svedbg: the daemon's command line.
//
//   svedbg serve (--sim | --core FILE | --pid PID [--mem GPA:SIZE[@HVA] ...]) [--vcpus LIST] [--listen HOST:PORT|unix:PATH|systemd] [--tdesc-vl max|effective|BITS]
//                [--sim-vcpus N] [--sim-max-vl BITS] [--sim-vl BITS[,BITS...]] [--sim-mem MIB]
//   svedbg dump (--sim [sim options] | --core FILE | --pid PID [--mem ...]) --format json|elf [--memory]
//               [--sve-notes gdb13|uniform|effective] -o FILE
//   svedbg serve --multi [--sim] [--listen ...] [--allow-kill] [--admin-group NAME]
//                [--allow-remote-unauthenticated] [--socket-mode OCTAL]
//   svedbg ps [--vl] [--json]
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gdbstub/transport.hpp"
#include "introspect/core/core_backend.hpp"
#include "introspect/dump.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/multi_host.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/sim/sim_fixture.hpp"
#include "introspect/vcpu_subset.hpp"
#include "kvm/proc_parse.hpp"
#include "kvm/scan/ps_json.hpp"
#include "kvm/scan/ps_text.hpp"
#include "kvm/scan/vcpu_inspect.hpp"
#include "kvm/scan/vmm_find.hpp"
#include "tools/serve_listen.hpp"
#if defined(__aarch64__)
#include "kvm/attach/attach_backend.hpp"
#endif

namespace {

using namespace svedbg;

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
      throw CLI::ValidationError("--sim-vl",
                                 fmt::format("{} is not a vector length (128..2048, multiple of 128)", bits));
    out.push_back(bits / 128);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

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

  void add_to(CLI::App* cmd, const char* sim_help) {
    cmd->add_flag("--sim", sim, sim_help);
    cmd->add_option("--core", core, "An arm64 ELF core file (svedbg dump or gcore), read-only");
    cmd->add_option("--pid", pid,
                    "Attach to the running KVM VMM with this pid (ptrace; arm64 builds). It is stopped while a "
                    "gdb client is connected and runs on unchanged after");
    cmd->add_option("--mem", mem,
                    "With --pid: guest RAM as GPA:SIZE@HVA (HVA: the VMM's address of it), or GPA:SIZE to find "
                    "the VMM's one mapping of that size (QEMU's -m RAM); repeatable. Default: found in the VMM's "
                    "mappings where it names its RAM (svedbg-vmm does)");
    cmd->add_option("--vcpus", vcpu_list,
                    "Only these vCPUs, e.g. 0,2 or 0-3 (gdb threads 1.. are them in this order; the others run and "
                    "stop with them but are not shown)");
    cmd->add_option("--sim-vcpus", vcpus, "Simulated vCPUs")->check(CLI::Range(1, 64))->capture_default_str();
    cmd->add_option("--sim-max-vl", max_vl, "Largest enabled VL in bits (VLS = 128..BITS)")
        ->check(CLI::Range(128, 2048))
        ->check([](const std::string& s) { return std::stoul(s) % 128 == 0 ? "" : "must be a multiple of 128"; })
        ->capture_default_str();
    cmd->add_option("--sim-mem", ram_mib, "Simulated guest RAM in MiB, at 0x40000000")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    cmd->add_option("--sim-vl", sim_vl,
                    "Effective VL of each vCPU in bits, comma-separated, cycled (default 2048,512,128,256)");
  }
};

// The chosen guest as a Backend, with a one-line description for banners;
// nullopt after printing why not, with the exit code in `failure` (2 for
// bad options, 1 for a guest that cannot be opened).
struct OpenedGuest {
  std::unique_ptr<kvm::Backend> backend;
  std::string description;
};

std::optional<OpenedGuest> open_whole_guest(const GuestArgs& a, const char* command, int& failure) {
  failure = 2;
  if (int(a.sim) + int(!a.core.empty()) + int(a.pid != 0) != 1) {
    std::fprintf(stderr,
                 "svedbg %s: choose the guest: --sim (the simulated guest), --core FILE (a core file) or --pid PID "
                 "(a running KVM VMM)\n",
                 command);
    return std::nullopt;
  }
  if (!a.mem.empty() && a.pid == 0) {
    std::fprintf(stderr, "svedbg %s: --mem goes with --pid\n", command);
    return std::nullopt;
  }
  if (a.pid != 0) {
    std::vector<kvm::RamRange> ram;
    for (const auto& m : a.mem) {
      auto r = kvm::parse_mem_spec(m);
      if (!r) {
        std::fprintf(stderr, "svedbg %s: %s\n", command, r.error().message.c_str());
        return std::nullopt;
      }
      ram.push_back(*r);
    }
#if defined(__aarch64__)
    failure = 1;
    kvm::AttachOptions opts;
    opts.memory = std::move(ram);
    // Tests only: a fault injected into the attach backend (docs/nested.md).
    if (const char* fault = std::getenv("SVEDBG_FAULT_INJECT")) {
      auto hooks = kvm::fault_hooks_from_spec(
          fault, [](const std::string& line) { std::fprintf(stderr, "svedbg: %s\n", line.c_str()); });
      if (!hooks) {
        std::fprintf(stderr, "svedbg: %s\n", hooks.error().message.c_str());
        return std::nullopt;
      }
      opts.faults = std::move(*hooks);
    }
    auto attached = kvm::AttachBackend::attach(static_cast<pid_t>(a.pid), std::move(opts));
    if (!attached) {
      std::fprintf(stderr, "svedbg: %s\n", attached.error().message.c_str());
      return std::nullopt;
    }
    std::string description = (*attached)->describe();
    return OpenedGuest{std::move(*attached), std::move(description)};
#else
    std::fprintf(stderr,
                 "svedbg %s: --pid: attaching needs an arm64 build of svedbg (KVM guests with SVE run on "
                 "arm64 hosts; tools/cross-build)\n",
                 command);
    failure = 1;
    return std::nullopt;
#endif
  }
  if (a.sim) {
    introspect::SimConfig cfg;
    cfg.vcpus = a.vcpus;
    cfg.max_vq = a.max_vl / 128;
    cfg.ram_size = std::size_t{a.ram_mib} << 20;
    if (!a.sim_vl.empty()) cfg.effective_vq = parse_bits_list(a.sim_vl);
    if (auto ok = introspect::SimBackend::check_config(cfg); !ok) {
      std::fprintf(stderr, "svedbg: %s\n", ok.error().message.c_str());
      return std::nullopt;
    }
    return OpenedGuest{std::make_unique<introspect::SimBackend>(cfg),
                       fmt::format("a simulated SVE guest: {} vCPUs, max VL {} bits, effective VLs {} bits", cfg.vcpus,
                                   cfg.max_vq * 128, a.sim_vl.empty() ? "2048,512,128,256" : a.sim_vl)};
  }
  auto core = introspect::CoreBackend::open(a.core);
  if (!core) {
    std::fprintf(stderr, "svedbg: %s\n", core.error().message.c_str());
    failure = 1;
    return std::nullopt;
  }
  for (const auto& w : (*core)->warnings()) std::fprintf(stderr, "svedbg: warning: %s\n", w.c_str());
  std::string description = (*core)->describe() + " (read-only)";
  return OpenedGuest{std::move(*core), std::move(description)};
}

// The guest, or with --vcpus the listed vCPUs of it (gdb thread N = the
// N-th listed vCPU).
std::optional<OpenedGuest> open_guest(const GuestArgs& a, const char* command, int& failure) {
  std::vector<unsigned> subset;
  if (!a.vcpu_list.empty()) {
    auto list = introspect::parse_vcpu_list(a.vcpu_list);
    if (!list) {
      std::fprintf(stderr, "svedbg %s: %s\n", command, list.error().message.c_str());
      failure = 2;
      return std::nullopt;
    }
    subset = std::move(*list);
  }
  auto guest = open_whole_guest(a, command, failure);
  if (!guest || subset.empty()) return guest;
  auto served = introspect::VcpuSubset::create(std::move(guest->backend), subset);
  if (!served) {  // the backend (and an attachment) is released here
    std::fprintf(stderr, "svedbg %s: %s\n", command, served.error().message.c_str());
    failure = 2;
    return std::nullopt;
  }
  guest->backend = std::move(*served);
  guest->description += fmt::format("; serving vCPUs {} as threads 1-{}", a.vcpu_list, subset.size());
  return guest;
}

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

// The options of `serve` besides the guest.
struct ServeArgs {
  std::string listen = "127.0.0.1:1234";
  bool listen_given = false;  // --listen on the command line (else an inherited socket wins)
  std::string tdesc_vl = "max";
  bool allow_sysreg_writes = false;
  bool read_only = false;
  double handshake_timeout = 10;  // seconds; 0: none
  double idle_timeout = 0;        // seconds; 0: none
  double write_stall_timeout = 10;
  // Access control and serve --multi (docs/multi.md).
  bool multi = false;
  bool allow_kill = false;
  std::string admin_group;
  bool allow_remote_unauthenticated = false;
  std::string socket_mode;  // octal; default 0600 (0666 with --multi)
};

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

int serve_multi(const GuestArgs& g, const ServeArgs& a);

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
  limits.handshake_timeout = to_ms(a.handshake_timeout);
  limits.idle_timeout = to_ms(a.idle_timeout);
  limits.write_stall_timeout = to_ms(a.write_stall_timeout);
  // What a service manager or a terminal sends to end a daemon: each one
  // stops it cleanly, removing its unix socket file.
  limits.stop_signals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
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
  limits.handshake_timeout = to_ms(a.handshake_timeout);
  limits.idle_timeout = to_ms(a.idle_timeout);
  limits.write_stall_timeout = to_ms(a.write_stall_timeout);
  limits.stop_signals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
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

// `svedbg ps`: the KVM VMMs on this host (kvm/scan/).
struct PsArgs {
  bool vl = false;
  bool json = false;
  std::string proc_root = "/proc";
  std::string debugfs_root = "/sys/kernel/debug";
};

#if defined(__aarch64__)
// kvm::AttachedVcpu (kvm/attach/attach_backend.hpp) as the scan's VcpuVl.
kvm::VcpuVl to_vcpu_vl(const kvm::AttachedVcpu& a) {
  kvm::VcpuVl v;
  v.id = a.id;
  if (a.thread > 0) v.tid = a.thread;
  v.sve = a.vls.has_value();
  if (a.vls) v.vls = *a.vls;
  if (a.vls && !a.effective_vq) v.error = "ZCR_EL1 not readable";
  if (a.effective_vq) v.effective_vq = *a.effective_vq;
  return v;
}

// `ps --vl` on arm64: attaches as `serve --pid` does (the VMM stops for a
// moment), takes AttachBackend::vcpus_info() and detaches, leaving the VMM
// running as it was. The backend learns which thread runs a vCPU when it
// stops that thread in KVM_RUN; when attach()'s stop did not tell, the VMM
// is let go and stopped once more, as for each new gdb client (detach,
// interrupt), which does.
Result<std::vector<kvm::VcpuVl>> inspect_by_attach(pid_t pid) {
  kvm::AttachOptions options;
  options.log = [](const std::string&) {};  // e.g. "guest RAM not found": not ps's business
  auto attached = kvm::AttachBackend::attach(pid, std::move(options));
  if (!attached) return attached.error();
  kvm::AttachBackend& b = **attached;
  auto info = b.vcpus_info();
  const bool unknown = std::any_of(info.begin(), info.end(), [](const kvm::AttachedVcpu& a) { return a.thread == 0; });
  if (unknown) {
    b.detach();
    b.interrupt();
    if (b.poll_stop()) {
      const auto again = b.vcpus_info();
      for (std::size_t i = 0; i < info.size() && i < again.size(); ++i)
        if (again[i].id == info[i].id && info[i].thread == 0) info[i].thread = again[i].thread;
    }
  }
  b.detach();
  std::vector<kvm::VcpuVl> out;
  for (const auto& a : info) out.push_back(to_vcpu_vl(a));
  return out;
}
#endif

int ps(const PsArgs& a) {
  if (a.vl && a.proc_root != "/proc") {
    std::fprintf(stderr, "svedbg ps: --vl attaches to the host's processes; it does not go with --proc-root\n");
    return 2;
  }
  kvm::ScanOptions options;
  options.proc_root = a.proc_root;
  options.debugfs_root = a.debugfs_root;
  auto scan = kvm::scan_vmms(options);
  if (!scan) {
    std::fprintf(stderr, "svedbg ps: %s\n", scan.error().message.c_str());
    return 1;
  }
  kvm::VcpuInspector inspect;
#if defined(__aarch64__)
  inspect = inspect_by_attach;
#endif
  scan->vl_supported = static_cast<bool>(inspect);
  if (a.vl) {
    if (!inspect)
      scan->vl_note = "--vl: vector lengths are arm64 SVE state; this build of svedbg lists VMMs without them";
    kvm::merge_vector_lengths(*scan, inspect);
  }
  const std::string text = a.json ? kvm::format_json(*scan) : kvm::format_text(*scan);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A log line written to a pipe whose reader has gone must not kill the
  // daemon: the write fails with EPIPE, which stdio tolerates.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"svedbg: a GDB remote stub for arm64 KVM guests with SVE"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("svedbg ") + SVEDBG_VERSION);

  auto* serve_cmd = app.add_subcommand("serve", "Serve a guest's vCPUs to gdb over the remote protocol");
  GuestArgs serve_guest;
  ServeArgs sa;
  serve_guest.add_to(serve_cmd, "Serve the built-in simulated SVE guest (see below)");
  auto* listen_opt =
      serve_cmd
          ->add_option("--listen", sa.listen,
                       "HOST:PORT (TCP), unix:PATH (socket created 0600) or systemd (the socket a service manager "
                       "passed: LISTEN_FDS, svedbg.socket; used without --listen too)")
          ->capture_default_str();
  serve_cmd
      ->add_option("--tdesc-vl", sa.tdesc_vl,
                   "Target-description VL: max (largest enabled VL, default; right for gdb-multiarch 13.1 and "
                   "lldb 14, tests/e2e/test_registers.py, test_lldb.py), effective (each thread sized by its own "
                   "effective VL: for lldb 14 only; no gdb release through 17 can resize a remote target's "
                   "registers, so a gdb client (qSupported qRelocInsn+) is served max and the daemon logs why), "
                   "or BITS")
      ->capture_default_str();
  serve_cmd->add_flag("--read-only", sa.read_only,
                      "Refuse every register, memory and state-changing monitor write from gdb");
  serve_cmd
      ->add_option("--handshake-timeout", sa.handshake_timeout,
                   "Drop a connection that sends no valid packet within SECONDS (0: never); the guest is only "
                   "stopped by a client's first packet")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  serve_cmd
      ->add_option("--idle-timeout", sa.idle_timeout,
                   "Drop a client that sends nothing for SECONDS while the guest is stopped, and resume the guest "
                   "as on detach (0: never, the default: a user may sit at a breakpoint for hours)")
      ->check(CLI::Range(0.0, 31536000.0))
      ->capture_default_str();
  serve_cmd
      ->add_option("--write-stall-timeout", sa.write_stall_timeout,
                   "Disconnect a client that consumes none of its pending output for SECONDS")
      ->check(CLI::Range(0.1, 86400.0))
      ->group("");
  serve_cmd->add_flag("--multi", sa.multi,
                      "Serve every KVM VMM of this host (with --sim: the simulated guest) to several clients at "
                      "once: gdb-multiarch -ex 'target extended-remote ADDR', `info os processes`, `attach PID`, "
                      "`detach` (docs/multi.md)");
  serve_cmd->add_flag("--allow-kill", sa.allow_kill,
                      "With --multi: let a client's `kill` kill the VMM it attached (refused by default)");
  serve_cmd->add_option("--admin-group", sa.admin_group,
                        "Members of this group may debug every user's VMMs (others only their own; root all)");
  serve_cmd->add_flag("--allow-remote-unauthenticated", sa.allow_remote_unauthenticated,
                      "Serve TCP peers that are not on loopback (they have no identity): they may debug only the "
                      "VMMs of the daemon's own uid");
  serve_cmd->add_option("--socket-mode", sa.socket_mode,
                        "Mode of the unix socket file, octal (default 0600; 0666 with --multi, which checks each "
                        "peer's uid)");
  serve_cmd->add_flag("--allow-sysreg-writes", sa.allow_sysreg_writes,
                      "Let gdb write the EL1 system registers (read-only by default)");
  serve_cmd->footer("\n" + std::string(introspect::sim_fixture_text()));

  auto* dump_cmd = app.add_subcommand("dump", "Write every vCPU's state (and guest RAM) to a JSON or ELF core file");
  GuestArgs dump_guest;
  DumpArgs da;
  dump_guest.add_to(dump_cmd, "Dump the built-in simulated SVE guest (fixture as for serve --sim)");
  dump_cmd->add_option("--format", da.format, "json (docs/dump-schema.json) or elf (an arm64 core for gdb -c)")
      ->required();
  dump_cmd->add_option("-o,--output", da.output, "Output file; - is stdout (json only)")->required();
  dump_cmd->add_flag("--memory", da.memory, "Include guest RAM (ELF: PT_LOAD at guest-physical addresses)");
  dump_cmd
      ->add_option("--sve-notes", da.sve_notes,
                   "ELF NT_ARM_SVE shape when vCPUs' VLs differ: gdb13 (default: gdb 13 shows what the live "
                   "stub shows), uniform (all at the largest VL), effective (each at its own VL, as Linux)")
      ->capture_default_str();
  dump_cmd->add_flag("--times", da.times,
                     "Print how long each phase took (open: --pid seizes and stops the VMM; read; write; close: "
                     "--pid detaches) on stderr");

  auto* ps_cmd = app.add_subcommand(
      "ps",
      "List the KVM VMMs you may inspect: pid, command, VM fd, vCPU fds and the thread running each vCPU, read "
      "from /proc without stopping anything; with --vl also each vCPU's vector lengths");
  PsArgs pa;
  ps_cmd->add_flag("--vl", pa.vl,
                   "Also read each vCPU's VLS and effective VL: attaches to each VMM in turn with ptrace (as serve "
                   "--pid), which STOPS it for a moment (injected KVM_GET_ONE_REG; a second moment when the first "
                   "did not tell which thread runs each vCPU), then detaches; it runs on unchanged. A VMM that "
                   "cannot be attached (already traced, no rights) shows the reason");
  ps_cmd->add_flag("--json", pa.json, "Print JSON for scripts (fields below)");
  ps_cmd->add_option("--proc-root", pa.proc_root, "Read this tree instead of /proc (tests)")->group("");
  ps_cmd->add_option("--debugfs-root", pa.debugfs_root, "Read KVM's debugfs under this tree (tests)")->group("");
  ps_cmd->footer(kvm::kPsJsonHelp);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*ps_cmd) return ps(pa);
    if (*dump_cmd) return dump(dump_guest, da);
    sa.listen_given = listen_opt->count() > 0;
    if (*serve_cmd) return serve(serve_guest, sa);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  return 0;
}
