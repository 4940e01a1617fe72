// svedbg-vmm: a minimal arm64 VMM that runs a raw guest image on KVM, with
// optional SVE, and serves it to gdb through libsvedbg.
//
//   svedbg-vmm [--vcpus N] [--max-vl BITS] [--no-sve] [--mem MiB] [--mem-base ADDR]
//              --load-addr ADDR [--gdb HOST:PORT|unix:PATH] [--tdesc-vl max|effective|BITS]
//              [--wait-gdb] [--gic] IMAGE
//
// The guest machine (no devices, no interrupt controller unless --gic, no PSCI):
//   - RAM: --mem MiB (default 16) at --mem-base (default 0x40000000), a
//     memfd named "svedbg-guest-ram@gpa=0xGPA" (findable in /proc/PID/maps);
//     the image is copied to ADDR, which must lie in RAM with the whole image.
//   - Every vCPU starts at ADDR in EL1h with DAIF masked (PSTATE 0x3c5), MMU
//     off, all other registers as KVM resets them (MPIDR_EL1.Aff0 = vCPU
//     index for up to 16 vCPUs). With SVE (default) each vCPU has
//     KVM_ARM_VCPU_SVE and the host's vector lengths up to --max-vl.
//   - MMIO 0x09000000 (console): a byte written there goes to stdout.
//   - MMIO 0x09000008 (exit): writing V exits the VMM with status V & 0xff.
//   - Other MMIO reads return 0, other writes are ignored (reported once).
//   - With --gic: an in-kernel vGICv3 (kvm/inprocess/vgic.hpp), distributor
//     at 0x08000000, redistributors at 0x080a0000 (128 KiB per vCPU), 64
//     interrupts, so KVM delivers the EL1 virtual timer (PPI 27) to the guest
//     (tests/nested/guests/timer_irq.S). Without it the guest has no
//     interrupt controller and its timer interrupts go nowhere.
// With --gdb the VMM serves gdb (libsvedbg); gdb's `kill` exits the VMM
// with status 137. Without --gdb it is a plain VMM.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/result.hpp"
#include "kvm/inprocess/vgic.hpp"
#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"
#include "common/unique_fd.hpp"
#include "kvm/vls.hpp"
#include "libsvedbg/svedbg.hpp"

namespace {

using namespace svedbg;

constexpr std::uint64_t kConsoleAddr = 0x09000000;
constexpr std::uint64_t kExitAddr = 0x09000008;
constexpr std::uint64_t kPstateEl1hMasked = 0x3c5;  // PSR_MODE_EL1h | PSR_{D,A,I,F}_BIT
constexpr int kKilledStatus = 137;

struct Config {
  unsigned vcpus = 1;
  unsigned max_vl = 0;  // 0: the host's maximum
  bool sve = true;
  unsigned mem_mib = 16;
  std::uint64_t mem_base = 0x40000000;
  std::uint64_t load_addr = 0;
  std::string gdb;
  std::string tdesc_vl = "max";
  bool wait_gdb = false;
  bool gdb_allow_remote = false;
  bool gic = false;
  std::string image;
};

Error sys_error(const std::string& what) {
  const int err = errno;
  return make_error(err, "{}: {}", what, std::strerror(err));
}

struct Vm {
  UniqueFd kvm;
  UniqueFd vm;
  Mapping ram;
  std::vector<UniqueFd> vcpu_fds;
  std::vector<Mapping> runs;
  UniqueFd gic;  // the vGICv3 device (--gic)
};

template <typename T>
std::array<std::byte, sizeof(T)> bytes_of(T v) {
  std::array<std::byte, sizeof(T)> out{};
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}

Result<std::vector<char>> read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ENOENT, "cannot open image {}: {}", path, std::strerror(errno));
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.empty()) return make_error(EINVAL, "image {} is empty", path);
  return data;
}

// The seed's sequence (Documentation/virt/kvm/api.rst, "KVM_ARM_VCPU_INIT"
// feature KVM_ARM_VCPU_SVE and KVM_ARM_VCPU_FINALIZE): read VLS (the host's
// lengths), clear those above the maximum, write it back, then finalize;
// VLS is writable only before finalization, Z/P/FFR and KVM_RUN only after.
Status configure_sve(int fd, unsigned i, unsigned max_vl) {
  std::array<std::byte, kvm::kVlsBytes> buf{};
  if (auto s = kvm::get_one_reg(fd, i, kvm::sve_vls(), buf); !s) return s;
  kvm::VqSet vls = kvm::VqSet::from_bytes(buf);
  const kvm::VqSet host = vls;
  if (max_vl != 0) {
    for (unsigned vq = max_vl / 128 + 1; vq <= kvm::kSveVqMax; ++vq) vls.clear(vq);
    if (vls.empty())
      return make_error(EINVAL, "--max-vl {}: below every vector length the host offers ({})", max_vl,
                        host.to_string());
    vls.to_bytes(buf);
    if (auto s = kvm::set_one_reg(fd, i, kvm::sve_vls(), buf); !s)
      return make_error(s.error().code, "setting vector lengths {} (host: {}): {}", vls.to_string(), host.to_string(),
                        s.error().message);
  }
  int feature = KVM_ARM_VCPU_SVE;
  if (::ioctl(fd, KVM_ARM_VCPU_FINALIZE, &feature) < 0)
    return sys_error(fmt::format("vCPU {}: KVM_ARM_VCPU_FINALIZE", i));
  if (i == 0)
    std::fprintf(stderr, "svedbg-vmm: SVE vector lengths %s (host: %s)\n", vls.to_string().c_str(),
                 host.to_string().c_str());
  return {};
}

Status create_vm(const Config& cfg, const std::vector<char>& image, Vm& vm) {
  vm.kvm.reset(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!vm.kvm.valid())
    return make_error(errno,
                      "cannot open /dev/kvm: {} (KVM needs an arm64 host with virtualization, and access to "
                      "/dev/kvm)",
                      std::strerror(errno));
  if (int v = ::ioctl(vm.kvm.get(), KVM_GET_API_VERSION, 0); v != KVM_API_VERSION)
    return make_error(ENOTSUP, "KVM API version {} (need {})", v, KVM_API_VERSION);
  if (cfg.sve && ::ioctl(vm.kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_ARM_SVE) <= 0)
    return make_error(ENOTSUP, "this host offers no SVE to guests (KVM_CAP_ARM_SVE is 0); run with --no-sve");
  const int max_vcpus = ::ioctl(vm.kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max_vcpus > 0 && cfg.vcpus > static_cast<unsigned>(max_vcpus))
    return make_error(EINVAL, "--vcpus {}: KVM allows at most {}", cfg.vcpus, max_vcpus);

  vm.vm.reset(::ioctl(vm.kvm.get(), KVM_CREATE_VM, 0));
  if (!vm.vm.valid()) return sys_error("KVM_CREATE_VM");

  // Guest RAM is a memfd named "svedbg-guest-ram@gpa=0xGPA", so a debugger
  // attaching from outside finds it in /proc/PID/maps (kvm/proc_parse.hpp).
  const std::size_t ram_size = std::size_t{cfg.mem_mib} << 20;
  const std::string ram_name = fmt::format("svedbg-guest-ram@gpa={:#x}", cfg.mem_base);
  UniqueFd ram_fd(::memfd_create(ram_name.c_str(), MFD_CLOEXEC));
  if (!ram_fd.valid()) return sys_error("memfd_create " + ram_name);
  if (::ftruncate(ram_fd.get(), static_cast<off_t>(ram_size)) < 0)
    return sys_error(fmt::format("ftruncate guest RAM to {} MiB", cfg.mem_mib));
  vm.ram = Mapping(::mmap(nullptr, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd.get(), 0), ram_size);
  if (!vm.ram.valid()) return sys_error(fmt::format("mmap {} MiB of guest RAM", cfg.mem_mib));
  std::memcpy(static_cast<char*>(vm.ram.get()) + (cfg.load_addr - cfg.mem_base), image.data(), image.size());
  struct kvm_userspace_memory_region region {};
  region.slot = 0;
  region.guest_phys_addr = cfg.mem_base;
  region.memory_size = ram_size;
  region.userspace_addr = reinterpret_cast<std::uintptr_t>(vm.ram.get());
  if (::ioctl(vm.vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return sys_error(fmt::format("KVM_SET_USER_MEMORY_REGION {:#x}+{:#x}", cfg.mem_base, ram_size));

  const int run_size = ::ioctl(vm.kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return sys_error("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_vcpu_init init {};
  if (::ioctl(vm.vm.get(), KVM_ARM_PREFERRED_TARGET, &init) < 0) return sys_error("KVM_ARM_PREFERRED_TARGET");
  if (cfg.sve) init.features[0] |= 1u << KVM_ARM_VCPU_SVE;

  for (unsigned i = 0; i < cfg.vcpus; ++i) {
    UniqueFd fd(::ioctl(vm.vm.get(), KVM_CREATE_VCPU, i));
    if (!fd.valid()) return sys_error(fmt::format("KVM_CREATE_VCPU {}", i));
    if (::ioctl(fd.get(), KVM_ARM_VCPU_INIT, &init) < 0) return sys_error(fmt::format("vCPU {}: KVM_ARM_VCPU_INIT", i));
    if (cfg.sve)
      if (auto s = configure_sve(fd.get(), i, cfg.max_vl); !s) return s;
    if (auto s = kvm::set_one_reg(fd.get(), i, kvm::core_pc(), bytes_of<std::uint64_t>(cfg.load_addr)); !s) return s;
    if (auto s = kvm::set_one_reg(fd.get(), i, kvm::core_pstate(), bytes_of<std::uint64_t>(kPstateEl1hMasked)); !s)
      return s;
    Mapping run(::mmap(nullptr, static_cast<std::size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0),
                static_cast<std::size_t>(run_size));
    if (!run.valid()) return sys_error(fmt::format("vCPU {}: mmap kvm_run", i));
    vm.vcpu_fds.push_back(std::move(fd));
    vm.runs.push_back(std::move(run));
  }
  if (cfg.gic) {
    // After every vCPU is created and initialized, before any runs (vgic.hpp).
    const kvm::GuestRange taken[] = {{cfg.mem_base, ram_size, "guest RAM (--mem-base, --mem)"},
                                     {kConsoleAddr, 0x1000, "the console/exit MMIO page"}};
    auto gic = kvm::create_vgic_v3(vm.vm.get(), cfg.vcpus, kvm::VgicV3Layout{}, taken);
    if (!gic) return gic.error();
    vm.gic = std::move(*gic);
    std::fprintf(stderr, "svedbg-vmm: vGICv3: distributor %#llx, redistributors %#llx\n",
                 static_cast<unsigned long long>(kvm::VgicV3Layout{}.dist),
                 static_cast<unsigned long long>(kvm::VgicV3Layout{}.redist));
  }
  return {};
}

void write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;  // the debugger's kick signal
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

[[noreturn]] void vmm_exit(int status, const std::string& why) {
  if (!why.empty()) {
    const std::string line = "svedbg-vmm: " + why + "\n";
    write_all(2, line.data(), line.size());
  }
  std::_Exit(status);
}

std::atomic<bool> g_unknown_mmio_reported{false};

void handle_mmio(unsigned i, kvm_run* run) {
  auto& m = run->mmio;
  if (m.is_write && m.phys_addr == kConsoleAddr) {
    write_all(1, m.data, 1);
    return;
  }
  if (m.is_write && m.phys_addr == kExitAddr) {
    std::uint64_t v = 0;
    std::memcpy(&v, m.data, std::min<std::size_t>(m.len, sizeof v));
    vmm_exit(static_cast<int>(v & 0xff), fmt::format("guest exit {} (vCPU {})", v & 0xff, i));
  }
  if (!m.is_write) std::memset(m.data, 0, sizeof m.data);
  if (!g_unknown_mmio_reported.exchange(true))
    std::fprintf(stderr, "svedbg-vmm: vCPU %u: unhandled MMIO %s of %u bytes at %#llx (ignored; reported once)\n", i,
                 m.is_write ? "write" : "read", m.len, static_cast<unsigned long long>(m.phys_addr));
}

void vcpu_loop(unsigned i, int fd, kvm_run* run, lib::DebugServer* dbg) {
  for (;;) {
    if (dbg) dbg->before_run(i);
    const int rc = ::ioctl(fd, KVM_RUN, 0);
    const int err = rc < 0 ? errno : 0;
    if (dbg && dbg->on_exit(i, err)) continue;
    if (rc < 0) {
      if (err == EINTR || err == EAGAIN) continue;
      vmm_exit(1, fmt::format("vCPU {}: KVM_RUN: {}", i, std::strerror(err)));
    }
    switch (run->exit_reason) {
      case KVM_EXIT_MMIO: handle_mmio(i, run); break;
      case KVM_EXIT_SYSTEM_EVENT:
        vmm_exit(0, fmt::format("vCPU {}: system event {} (shutdown/reset)", i, run->system_event.type));
      case KVM_EXIT_FAIL_ENTRY:
        vmm_exit(1, fmt::format("vCPU {}: KVM_EXIT_FAIL_ENTRY, reason {:#x}", i,
                                static_cast<unsigned long long>(run->fail_entry.hardware_entry_failure_reason)));
      case KVM_EXIT_INTERNAL_ERROR:
        vmm_exit(1, fmt::format("vCPU {}: KVM_EXIT_INTERNAL_ERROR, suberror {}", i, run->internal.suberror));
      default: vmm_exit(1, fmt::format("vCPU {}: unexpected exit reason {}", i, run->exit_reason));
    }
  }
}

int run_vmm(const Config& cfg) {
  if (cfg.max_vl != 0 && (cfg.max_vl % 128 != 0 || cfg.max_vl > 2048)) {
    std::fprintf(stderr, "svedbg-vmm: --max-vl %u: a vector length is a multiple of 128 in 128..2048\n", cfg.max_vl);
    return 2;
  }
  const std::uint64_t ram_end = cfg.mem_base + (std::uint64_t{cfg.mem_mib} << 20);
  auto image = read_image(cfg.image);
  if (!image) {
    std::fprintf(stderr, "svedbg-vmm: %s\n", image.error().message.c_str());
    return 2;
  }
  if (cfg.load_addr < cfg.mem_base || cfg.load_addr >= ram_end || image->size() > ram_end - cfg.load_addr) {
    std::fprintf(stderr,
                 "svedbg-vmm: the image (%zu bytes at --load-addr %#llx) does not fit in guest RAM %#llx..%#llx "
                 "(--mem-base, --mem)\n",
                 image->size(), static_cast<unsigned long long>(cfg.load_addr),
                 static_cast<unsigned long long>(cfg.mem_base), static_cast<unsigned long long>(ram_end - 1));
    return 2;
  }
  if (cfg.load_addr % 4 != 0) {
    std::fprintf(stderr, "svedbg-vmm: --load-addr %#llx is not 4-byte aligned\n",
                 static_cast<unsigned long long>(cfg.load_addr));
    return 2;
  }

  Vm vm;
  if (auto s = create_vm(cfg, *image, vm); !s) {
    std::fprintf(stderr, "svedbg-vmm: %s\n", s.error().message.c_str());
    return 1;
  }

  std::unique_ptr<lib::DebugServer> dbg;
  if (!cfg.gdb.empty()) {
    std::vector<lib::Vcpu> vcpus;
    for (unsigned i = 0; i < cfg.vcpus; ++i)
      vcpus.push_back(lib::Vcpu{vm.vcpu_fds[i].get(), static_cast<kvm_run*>(vm.runs[i].get())});
    lib::Options opts;
    opts.listen = cfg.gdb;
    opts.tdesc_vl = cfg.tdesc_vl;
    opts.wait_for_gdb = cfg.wait_gdb;
    opts.allow_remote_unauthenticated = cfg.gdb_allow_remote;
    opts.on_kill = [] { vmm_exit(kKilledStatus, "killed by gdb"); };
    auto created = lib::DebugServer::create(std::move(vcpus),
                                            {lib::MemoryRegion{cfg.mem_base, vm.ram.get(), vm.ram.size()}}, opts);
    if (!created) {
      std::fprintf(stderr, "svedbg-vmm: %s\n", created.error().message.c_str());
      return 1;
    }
    dbg = std::move(*created);
    if (auto s = dbg->start(); !s) {
      std::fprintf(stderr, "svedbg-vmm: %s\n", s.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "svedbg-vmm: gdb stub listening on %s\n", dbg->address().c_str());
  }

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < cfg.vcpus; ++i)
    threads.emplace_back(vcpu_loop, i, vm.vcpu_fds[i].get(), static_cast<kvm_run*>(vm.runs[i].get()), dbg.get());
  for (auto& t : threads) t.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svedbg-vmm: a minimal arm64 KVM VMM for raw guest images, with SVE and a gdb stub"};
  Config cfg;
  app.add_option("--vcpus", cfg.vcpus, "Number of vCPUs")->check(CLI::Range(1, 512))->capture_default_str();
  app.add_option("--max-vl", cfg.max_vl,
                 "Largest SVE vector length in bits to enable (default: the host's; ignored with --no-sve)");
  app.add_flag(
      "--no-sve", [&](std::int64_t) { cfg.sve = false; }, "Create the vCPUs without SVE (FPSIMD only)");
  app.add_option("--mem", cfg.mem_mib, "Guest RAM in MiB")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--mem-base", cfg.mem_base, "Guest-physical base of RAM")->capture_default_str();
  app.add_option("--load-addr", cfg.load_addr, "Guest-physical address of the image and entry point")->required();
  app.add_option("--gdb", cfg.gdb, "Serve gdb on HOST:PORT or unix:PATH (libsvedbg)");
  app.add_option("--tdesc-vl", cfg.tdesc_vl, "Target-description VL: max, effective or BITS")->capture_default_str();
  app.add_flag("--wait-gdb", cfg.wait_gdb, "With --gdb: vCPUs wait at their first instruction until gdb resumes them");
  app.add_flag("--gdb-allow-remote-unauthenticated", cfg.gdb_allow_remote,
               "With --gdb on a non-loopback address: serve its peers, which have no identity (refused otherwise)");
  app.add_flag("--gic", cfg.gic,
               "Give the guest an in-kernel vGICv3 (distributor 0x08000000, redistributors 0x080a0000), so its "
               "timer interrupts are delivered");
  app.add_option("IMAGE", cfg.image, "Raw guest image (flat binary)")->required();
  app.footer(
      "Guest machine: RAM at --mem-base (default 0x40000000, 16 MiB), image copied to --load-addr,\n"
      "every vCPU starts there in EL1h with DAIF masked, MMU off. MMIO 0x09000000: byte writes go\n"
      "to stdout; MMIO 0x09000008: a write exits the VMM with that status (& 0xff). gdb `kill`\n"
      "exits with status 137. --gic: vGICv3 at 0x08000000 (GICD) and 0x080a0000 (GICR, 128 KiB per vCPU).");
  CLI11_PARSE(app, argc, argv);
  if (!cfg.sve && cfg.max_vl != 0) {
    std::fprintf(stderr, "svedbg-vmm: --no-sve: ignoring --max-vl %u\n", cfg.max_vl);
    cfg.max_vl = 0;
  }
  return run_vmm(cfg);
}
