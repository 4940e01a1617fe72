// `serve` and `dump`: choosing and opening the guest (svedbg_cli.hpp).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "introspect/core/core_backend.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/vcpu_subset.hpp"
#include "kvm/proc_parse.hpp"
#include "tools/svedbg_cli.hpp"
#if defined(__aarch64__)
#include "kvm/attach/attach_backend.hpp"
#endif

namespace svedbg::cli {

namespace {

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

}  // namespace

void GuestArgs::add_to(CLI::App* cmd, const char* sim_help) {
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

}  // namespace svedbg::cli
