// SimBackend: a simulated arm64 guest behind the KVM register API.
//
// Contract: SimBackend answers every Backend call the way KVM answers the
// corresponding ioctl on an arm64 host with SVE (arch/arm64/kvm/guest.c,
// sys_regs.c; Documentation/virt/kvm/api.rst), so code above the Backend
// interface meets the same errno paths as with real KVM: EINVAL when the
// ID is not arm64 or its size field is wrong, the buffer size differs from
// kvm::reg_size(id), a core offset names no register, or a core FPSIMD
// V-register is accessed on a vCPU with SVE; ENOENT for unknown system
// registers, for every SVE ID (VLS, Z/P/FFR, ZCR_EL1) on a vCPU without SVE
// and for a slice other than 0; EPERM for Z/P/FFR before
// KVM_ARM_VCPU_FINALIZE and for VLS writes after it; EINVAL for a VLS write
// the host cannot honour. Z/P/FFR transfer the full 2048/256-bit container,
// with data up to the vCPU's maximum VL and zeros above. A vCPU index past
// the last vCPU gives ESRCH; register access while the guest runs, EBUSY. Messages name the vCPU and the register
// (kvm::reg_name). All members are thread-safe (one mutex); the stop
// notifier runs without the lock held. The constructor throws
// std::invalid_argument for a configuration that check_config() rejects.
//
// The fixture (what setup = true, and kill(), leave in the guest) is
// documented once, in sim_fixture_text() (introspect/sim/sim_fixture.hpp),
// for the default SimConfig; other configurations apply the same formulas
// with their own vCPU count, VLs and RAM (pc = ram_base).
// e comes from SimConfig::effective_vq: the requested vq r is written to
// ZCR_EL1.LEN (r - 1, clamped to 0..15) and clamped by the architectural
// rule (kvm::effective_vq: the largest enabled vq <= r), then ZCR_EL1 is
// stored as e - 1.
//
// Run control: the simulated CPU executes NOP (pc += 4, x0 += 1), B and
// BRK, STR (64-bit, unsigned offset), and MSR DAIFSet/DAIFClr, MSR/MRS
// DAIF, SVC and ERET; anything else takes a synchronous exception to
// VBAR_EL1 + 0x200. An optional timer
// interrupt (SimConfig::irq_period, `monitor sim irq`) is taken to the IRQ
// vector while PSTATE.I is clear.
// Single-stepping vCPU v executes one instruction of v only. A running
// guest executes on the sim's own thread, the vCPUs one instruction each in
// turn, until a debug event (KVM_SET_GUEST_DEBUG: BRK with USE_SW_BP,
// DBGBCR/DBGBVR address match) or interrupt(). `monitor("sim set-vl VCPU
// BITS")` changes a vCPU's effective VL as its guest would (see monitor()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "kvm/reg_id.hpp"
#include "kvm/vls.hpp"

namespace svedbg::introspect {

struct SimConfig {
  unsigned vcpus = 4;
  // Largest vq the VMM enables (1..16): setup clears VLS bits above it.
  unsigned max_vq = 16;
  // Requested vq per vCPU, cycled if shorter than vcpus (empty: max_vq);
  // clamped by the effective rule (largest enabled vq <= request).
  std::vector<unsigned> effective_vq = {16, 4, 1, 2};
  // KVM_ARM_VCPU_SVE per vCPU, cycled if shorter than vcpus; empty = all.
  std::vector<bool> sve = {};
  // The vector lengths the simulated host supports, i.e. what VLS reads
  // before it is written (empty = vq 1..16, the verified nested-KVM host).
  // Setup then keeps those <= max_vq, so empty means vq 1..max_vq.
  kvm::VqSet vls = {};
  std::uint64_t ram_base = 0x40000000;
  std::size_t ram_size = 1 << 20;
  // The simulated timer interrupt (sim_irq.cpp): 0 = off (the default);
  // N: an IRQ becomes pending on a vCPU every N instructions it executes
  // and whenever the guest resumes (`monitor sim irq every N`).
  unsigned irq_period = 0;
};

class SimBackend final : public kvm::Backend, public kvm::RunControl, public kvm::VcpuRunControl {
 public:
  // Arm Neoverse V2 r0p0 (implementer 0x41 'A', architecture 0xf, part
  // 0xd4f), an SVE2 core; real V2 parts implement only 128-bit vectors, the
  // simulated host offers 128..2048 bits like QEMU's `-cpu max,sve=on`.
  static constexpr std::uint64_t kMidr = 0x410fd4f0;
  // The SCTLR_EL1 RES1 bits with the MMU and caches off (Linux's
  // INIT_SCTLR_EL1_MMU_OFF); KVM itself resets SCTLR_EL1 to 0x00c50078.
  static constexpr std::uint64_t kSctlrReset = 0x30d00800;
  static constexpr std::uint64_t kPstateReset = 0x3c5;  // PSR_MODE_EL1h | PSR_{D,A,I,F}_BIT
  static constexpr std::uint32_t kNop = 0xd503201f;
  static constexpr std::uint32_t kBranchSelf = 0x14000000;  // b .
  // The guest program: NOPs, then `b .` in the last word of the first page.
  static constexpr std::uint64_t kLoopOffset = 0xffc;
  // Debug registers the simulated host offers (KVM_CAP_GUEST_DEBUG_HW_BPS/WPS
  // of a Neoverse-like part).
  static constexpr kvm::DebugCaps kDebugCaps{true, 6, 4};
  static constexpr unsigned kHostMaxVq = 16;  // 2048 bits, the architectural limit

  // Why `cfg` cannot be simulated (vcpus 0 or > 512, max_vq outside 1..16,
  // a host vq above 16, no host vq <= max_vq, empty or wrapping RAM).
  static Status check_config(const SimConfig& cfg);

  // Creates and initialises (KVM_ARM_VCPU_INIT) the vCPUs: KVM's reset
  // state, VLS = the host set, not finalized, Z/P/FFR zero. With `setup`
  // it then runs a VMM's sequence through the same checks as the public
  // API: for each SVE vCPU get VLS, clear lengths above max_vq, set VLS,
  // finalize; and writes the fixture with set_one_reg.
  explicit SimBackend(SimConfig cfg, bool setup = true);
  ~SimBackend() override;
  SimBackend(const SimBackend&) = delete;
  SimBackend& operator=(const SimBackend&) = delete;

  // KVM_ARM_VCPU_FINALIZE(KVM_ARM_VCPU_SVE): EPERM if already finalized,
  // EINVAL on a vCPU without SVE, ESRCH for a bad index.
  Status finalize(unsigned vcpu);

  const SimConfig& config() const { return cfg_; }
  // The effective vq the fixture gave `vcpu` (0 for a vCPU without SVE).
  unsigned fixture_vq(unsigned vcpu) const;
  // Fixture bytes, as documented above (b < L/8 resp. b < L).
  static std::uint8_t fixture_z_byte(unsigned vcpu, unsigned n, unsigned b) {
    return static_cast<std::uint8_t>((vcpu * 37 + n * 11 + b) % 256);
  }
  static std::uint8_t fixture_p_byte(unsigned vcpu, unsigned n, unsigned b) {
    return static_cast<std::uint8_t>((vcpu * 5 + n * 3 + b) % 256);
  }
  static std::uint8_t fixture_ram_byte(std::uint64_t offset);

  // Backend
  std::string name() const override { return "sim"; }
  unsigned vcpu_count() const override { return cfg_.vcpus; }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override;
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override;
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override;
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override;
  // One range: cfg.ram_base, cfg.ram_size.
  std::vector<kvm::MemoryRange> memory_map() const override { return {{cfg_.ram_base, cfg_.ram_size}}; }
  // step non-empty: each listed vCPU (ESRCH for a bad index) executes one
  // instruction and the first listed reports Stepped (or the breakpoint it
  // hit); the other vCPUs execute nothing meanwhile, which keeps steps
  // deterministic. step empty: every vCPU runs the guest program, one
  // instruction each in turn, on the sim's own thread, until a debug event
  // (a BRK with KVM_GUESTDBG_USE_SW_BP, a hardware breakpoint) or
  // interrupt().
  Status resume(std::span<const unsigned> step, bool others_run) override;
  // Stops a running guest: poll_stop() then reports {v, Interrupted}, v the
  // vCPU of the previous stop (0 initially). No effect when not running.
  void interrupt() override;
  bool running() const override;
  // The pending stop, once; nullopt when none is pending.
  std::optional<kvm::BackendStop> poll_stop() override;
  // KVM_SET_GUEST_DEBUG: ENABLE, USE_SW_BP, USE_HW (DBGBCR/DBGBVR address
  // match; DBGWCR/DBGWVR watchpoints fire on the one store the simulated
  // CPU executes, STR Xt, [Xn, #imm]; the fixture's program does none).
  Status set_guest_debug(unsigned vcpu, const kvm::GuestDebug& debug) override;
  kvm::DebugCaps debug_caps() const override { return kDebugCaps; }
  void set_stop_notifier(std::function<void()> notify) override;
  kvm::RunControl* run_control() override { return this; }
  // Non-stop (kvm::VcpuRunControl): each vCPU runs or is stopped on its
  // own; the running ones execute in turn on the sim's thread as in
  // all-stop, and a debug event stops only its vCPU. A step executes one
  // instruction of that vCPU at once.
  kvm::VcpuRunControl* vcpu_control() override { return this; }
  Status set_non_stop(bool on) override;
  Status resume_vcpu(unsigned vcpu, bool step) override;
  Status stop_vcpu(unsigned vcpu) override;
  bool vcpu_running(unsigned vcpu) const override;
  // "sim set-vl VCPU BITS": VCPU 0-based, BITS a multiple of 128 in
  // 128..2048. Writes ZCR_EL1.LEN = BITS/128 - 1 through set_one_reg as the
  // guest kernel would, then zeroes Z/P/FFR at and above the new effective
  // VL; answers "vCPU 1: VL 512 bits (ZCR_EL1.LEN=3)\n". "sim vmm-exit":
  // the simulated VMM exits (the next resume reports Exited). Both change
  // the guest.
  void add_monitor_commands(MonitorRegistry& registry) override;
  // Resumes the guest unchanged (running, no pending stop).
  Detached detach() override;
  // gdb's kill ends the debugged guest; the sim then stands in a fresh one
  // for the next client: state, RAM and run state return to what the
  // constructor produced (the stop notifier is kept).
  void kill() override;

 private:
  struct Vcpu {
    bool has_sve = false;
    bool finalized = false;
    kvm::VqSet vls;
    unsigned fixture_vq = 0;
    // struct kvm_regs image, addressed by KVM_REG_ARM_CORE offsets. Its
    // elr_el1 and spsr[0] are the guest's ELR_EL1 and SPSR_EL1.
    std::array<std::byte, kvm::layout::kSizeofKvmRegs> core{};
    std::array<std::array<std::byte, kvm::kZregBytes>, kvm::kSveNumZregs> z{};
    std::array<std::array<std::byte, kvm::kPregBytes>, kvm::kSveNumPregs> p{};
    std::array<std::byte, kvm::kPregBytes> ffr{};
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sysregs;  // ID -> value
    // The timer interrupt (sim_irq.cpp): instructions executed, and
    // whether its IRQ is pending (until taken).
    std::uint64_t irq_count = 0;
    bool irq_pending = false;
  };

  void reset_locked();
  void setup_locked();
  Status get_locked(unsigned vcpu, std::uint64_t id, std::span<std::byte> out);
  Status set_locked(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in);
  Status finalize_locked(unsigned vcpu);
  Status check_access(unsigned vcpu, std::uint64_t id, std::size_t buf_size) const;
  Status core_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out, std::span<const std::byte> in);
  Status sve_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out, std::span<const std::byte> in);
  Status sysreg_access(unsigned vcpu, std::uint64_t id, std::span<std::byte> out, std::span<const std::byte> in);
  Result<std::string> set_vl_locked(std::string_view vcpu_arg, std::string_view bits_arg);
  // Executes one instruction of `vcpu` as the simulated CPU does: NOP,
  // B (imm26), BRK; anything else (or a fetch outside RAM) takes a
  // synchronous exception to VBAR_EL1 + 0x200 as the architecture would.
  // Returns the debug stop it caused, if any.
  std::optional<kvm::BackendStop> execute_locked(unsigned vcpu, bool single_step);
  void take_exception_locked(unsigned vcpu, std::uint64_t esr);
  // The interrupt model and the system instructions around it (sim_irq.cpp).
  // The vector table's base offset for an exception taken to EL1 from
  // `pstate` (Arm ARM D1.10.2): 0x000 from EL1t, 0x200 EL1h, 0x400 EL0.
  static std::uint64_t vector_base(std::uint64_t pstate);
  // Takes the pending IRQ if PSTATE.I is clear; true when it did.
  bool take_pending_irq_locked(unsigned vcpu);
  // One instruction executed: the timer counts it.
  void irq_tick_locked(unsigned vcpu);
  // The guest resumes after a stop: the timer fired meanwhile.
  void irq_on_resume_locked();
  // MSR DAIFSet/DAIFClr, MSR/MRS DAIF, ERET, SVC; false for others.
  bool execute_system_locked(unsigned vcpu, std::uint32_t insn, std::uint64_t pc);
  // STR Xt, [Xn, #imm] (sim_store.cpp): false for other instructions; a
  // watchpoint hit leaves its stop in `stop`.
  bool execute_store_locked(unsigned vcpu, std::uint32_t insn, std::uint64_t pc, std::optional<kvm::BackendStop>& stop);
  void add_irq_monitor_command(MonitorRegistry& registry);
  // Offset of `gpa` in ram_, or EFAULT naming the RAM range.
  Result<std::size_t> ram_offset_locked(std::uint64_t gpa) const;
  void run_loop();
  // Non-stop: runs one slice of the vCPUs that run; a debug event stops
  // its vCPU only and is queued for poll_stop().
  void run_slice_nonstop(std::unique_lock<std::mutex>& lock);
  // vCPU `vcpu` is in KVM_RUN: all-stop running, or running in non-stop.
  bool busy_locked(unsigned vcpu) const { return running_ || (vcpu < vcpu_run_.size() && vcpu_run_[vcpu]); }
  bool any_vcpu_runs_locked() const;
  void notify_stop(std::unique_lock<std::mutex>& lock);

  const SimConfig cfg_;
  const bool setup_;
  const kvm::VqSet host_vls_;
  mutable std::mutex mu_;
  std::vector<Vcpu> vcpus_;
  std::vector<std::byte> ram_;
  bool running_ = false;
  std::optional<kvm::BackendStop> pending_;
  unsigned last_stop_vcpu_ = 0;
  std::function<void()> notify_;
  std::vector<kvm::GuestDebug> debug_;
  std::condition_variable wake_;
  // `sim irq every N` (at_resume) or `sim irq count N`.
  unsigned irq_period_ = cfg_.irq_period;
  bool irq_at_resume_ = true;
  bool shutdown_ = false;
  bool vmm_gone_ = false;  // `sim vmm-exit`
  // Non-stop mode: which vCPUs run, and their stops not yet polled.
  bool non_stop_ = false;
  std::vector<char> vcpu_run_;
  std::deque<kvm::BackendStop> vcpu_stops_;
  std::thread runner_;     // last: started once everything above exists
};

}  // namespace svedbg::introspect
