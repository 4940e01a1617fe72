// libsvedbg: a GDB remote stub inside a VMM, for arm64 KVM guests with SVE.
//
// Contract: a VMM that created and finalized its vCPUs (KVM_ARM_VCPU_INIT,
// SVE_VLS, KVM_ARM_VCPU_FINALIZE) and mapped its guest memory hands
// DebugServer::create() every vCPU fd with its mmap'ed struct kvm_run (in
// vCPU index order: gdb thread N = vCPU N-1) and every guest memory region,
// *before* its vCPU threads first enter KVM_RUN. start() binds the listen
// address and serves gdb (introspect::GuestTarget over a
// kvm::InProcessBackend, gdbstub::Server) on a thread of its own; stop() and
// the destructor stop serving, join that thread and let the guest run. Each
// vCPU thread runs its loop through the gate hooks, on its own vCPU only:
//
//   for (;;) {
//     dbg.before_run(i);                       // parks while gdb holds the guest
//     int rc = ioctl(fd[i], KVM_RUN, 0);
//     if (dbg.on_exit(i, rc < 0 ? errno : 0)) continue;  // gdb's exit: loop
//     ... the VMM's own exit handling ...
//   }
//   dbg.vcpu_exited(i);
//
// The library stops vCPUs with immediate_exit plus a signal it owns (see
// kvm/inprocess/vcpu_gate.hpp: do not block it on vCPU threads, retry
// syscalls on EINTR there). This header needs only the standard library and
// common/result.hpp: a VMM that links libsvedbg sees none of svedbg's
// layers. Without a connected gdb the guest runs normally (unless
// wait_for_gdb). gdb's `kill` calls on_kill when given, else resumes the
// guest like `detach`. All-stop: registers are read while every vCPU is
// parked. Failures are svedbg::Error (errno code + message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

struct kvm_run;

namespace svedbg::lib {

struct Vcpu {
  int fd = -1;             // from KVM_CREATE_VCPU
  kvm_run* run = nullptr;  // mmap(fd, KVM_GET_VCPU_MMAP_SIZE)
};

struct MemoryRegion {
  std::uint64_t gpa = 0;  // guest-physical base (KVM_SET_USER_MEMORY_REGION guest_phys_addr)
  void* hva = nullptr;    // where the VMM mapped it (userspace_addr)
  std::size_t size = 0;   // bytes (memory_size)
};

struct Options {
  std::string listen = "127.0.0.1:1234";        // "HOST:PORT", ":0" (any port), "unix:PATH"
  std::string tdesc_vl = "max";                 // "max", "effective" or BITS (see README)
  bool wait_for_gdb = false;                    // vCPUs park at their first KVM_RUN until gdb resumes them
  int kick_signal = 0;                          // 0: SIGRTMIN + 6
  std::function<void()> on_kill;                // gdb `kill`; empty: resume like detach
  std::function<void(const std::string&)> log;  // connection events, errors; empty: stderr
  // A peer of a non-loopback listen address has no identity (the kernel
  // names the owner of unix-socket and loopback TCP peers only): refused
  // unless this is set, and then served as the VMM's own user.
  bool allow_remote_unauthenticated = false;
};

class DebugServer {
 public:
  static Result<std::unique_ptr<DebugServer>> create(std::vector<Vcpu> vcpus, std::vector<MemoryRegion> memory,
                                                     Options options = {});
  ~DebugServer();
  DebugServer(const DebugServer&) = delete;
  DebugServer& operator=(const DebugServer&) = delete;

  // Binds the listen address and starts serving on a new thread.
  Status start();
  // The bound address ("127.0.0.1:40123", "unix:/path"), valid after start().
  std::string address() const;
  // Stops serving and joins the server thread; the guest runs on. Idempotent.
  void stop();

  // vCPU-thread hooks, each called on vCPU `vcpu`'s own thread (see above).
  void before_run(unsigned vcpu);
  bool on_exit(unsigned vcpu, int run_errno);
  void vcpu_exited(unsigned vcpu);

 private:
  struct Impl;
  explicit DebugServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svedbg::lib
