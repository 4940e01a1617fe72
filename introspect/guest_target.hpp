// introspect::GuestTarget: the gdbstub::Target of a VM, over any Backend.
//
// Contract: threads are vCPUs (gdb thread N = the backend's vCPU N-1, named
// by the VMM's index, Backend::vmm_index, in every text). Registers are read
// through the KVM register IDs of regmap.hpp from the backend, via a
// StopCache (each register at most once per stop, only on demand), in
// batches where the set is known (Backend::get_regs): a `g` packet's
// registers, a stop's expedited registers, the four that address
// translation needs. Where the backend says batches cost what one read does
// (batches_reads(): the attach backend), a stop also reads the translation
// registers and the first `p` of an uncached register reads its group
// (general, FP/SVE, system) of that thread, as clients read them together. The
// target description follows the guest's vector lengths (see TdescVl): by
// default the largest enabled VL of any vCPU, so every vCPU's registers fit;
// `vg` always reports a vCPU's *effective* VL (ZCR_EL1), and bytes above it
// read as zero. Monitor commands: help, vls, plus the backend's own. The
// guest is never modified unless gdb asks (register/memory writes, resume,
// step, a state-changing monitor command); attach stops it, detach lets it
// run as before. attach() only records the stop (AttachStop): what needs
// no vCPU (threads, the target description but in --tdesc-vl effective,
// client features) is answered at once while the guest runs, and the
// first call that reads or changes the guest (gdb's `?`) stops it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gdbstub/target.hpp"
#include "kvm/backend.hpp"
#include "introspect/breakpoints.hpp"
#include "introspect/page_walk.hpp"
#include "introspect/paused_guest.hpp"
#include "introspect/regmap.hpp"
#include "introspect/stop_cache.hpp"
#include "introspect/step_irq.hpp"
#include "kvm/vls.hpp"

namespace svedbg::introspect {

// Which vector length the target description uses (--tdesc-vl).
struct TdescVl {
  enum class Mode {
    Max,        // largest enabled VL of the guest (default; right for gdb 13)
    Effective,  // the current thread's effective VL, and every register
                // sized by its own thread's effective VL (for lldb 14, which
                // resizes SVE registers from each stop's `vg`). gdb keeps
                // the layout it read at connect (gdb-multiarch 13.1, tests/
                // e2e/test_gdb_sve_ext.py; no release through 17 resizes a
                // remote target's registers), so a client that announces
                // itself as gdb in qSupported is served Max instead, and the
                // daemon logs why.
    Fixed,      // a given VL the guest has enabled
  } mode = Mode::Max;
  unsigned vq = 0;  // for Fixed
};
// "max", "effective", or a number of bits (a multiple of 128).
Result<TdescVl> parse_tdesc_vl(const std::string& text);
std::string to_string(const TdescVl& t);

struct GuestOptions {
  TdescVl tdesc;
  // The system-register feature is read-only unless this is set: a stray
  // write to SCTLR_EL1 or TTBR0_EL1 would wreck the guest.
  bool allow_sysreg_writes = false;
  // --read-only: every register and memory write, and every monitor command
  // that changes guest state, is refused (EROFS). Run control still works.
  bool read_only = false;
  // Where the target reports what a client should know but gdb cannot be
  // told (e.g. --tdesc-vl effective refused for gdb); empty: stderr, as
  // "svedbg: TEXT".
  std::function<void(const std::string&)> log = nullptr;
};

class GuestTarget final : public gdbstub::Target, public gdbstub::NonStopTarget {
 public:
  // Probes every vCPU's SVE configuration (VLS) and validates the options.
  static Result<std::unique_ptr<GuestTarget>> create(kvm::Backend& backend, GuestOptions options);

  std::vector<gdbstub::ThreadId> threads() override;
  bool thread_alive(gdbstub::ThreadId tid) override;
  std::string thread_extra_info(gdbstub::ThreadId tid) override;
  unsigned thread_cpu(gdbstub::ThreadId tid) override;
  Result<std::string> features_document(std::string_view annex) override;
  Result<Bytes> read_register(gdbstub::ThreadId tid, unsigned regnum) override;
  Status write_register(gdbstub::ThreadId tid, unsigned regnum, std::span<const std::byte> data) override;
  Result<Bytes> read_all_registers(gdbstub::ThreadId tid) override;
  Status write_all_registers(gdbstub::ThreadId tid, std::span<const std::byte> data) override;
  std::vector<unsigned> expedited_registers(gdbstub::ThreadId tid) override;
  Result<Bytes> read_memory(gdbstub::ThreadId tid, std::uint64_t addr, std::size_t len) override;
  Status write_memory(gdbstub::ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) override;
  Status insert_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) override;
  Status remove_breakpoint(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind) override;
  Status attach() override;
  void client_features(std::span<const std::string> features) override;
  Status resume(std::span<const gdbstub::ResumeAction> actions) override;
  void interrupt() override;
  std::optional<gdbstub::StopEvent> poll_stop() override;
  void set_stop_notifier(std::function<void()> notify) override;
  gdbstub::StopEvent last_stop() override;
  Result<std::string> monitor(std::string_view command) override;
  Detached detach() override;
  void kill() override;
  // Non-stop (guest_nonstop.cpp): offered when the backend has per-vCPU
  // run control. While on, every vCPU has KVM_GUESTDBG_USE_SW_BP set, so a
  // software breakpoint gdb inserts while vCPUs run traps to the debugger;
  // debug registers (hardware breakpoints, watchpoints) reach a vCPU when
  // it is next resumed. Registers of a running vCPU are refused (EBUSY)
  // before the backend is asked.
  gdbstub::NonStopTarget* non_stop() override;
  Status set_non_stop(bool on) override;
  Status resume_thread(gdbstub::ThreadId tid, gdbstub::ResumeKind kind) override;
  Status stop_thread(gdbstub::ThreadId tid, gdbstub::Signal signal) override;
  bool thread_running(gdbstub::ThreadId tid) override;

  // For tests and dumps.
  Result<VcpuVl> vcpu_vl(unsigned vcpu);
  bool description_sve() const { return sve_; }
  unsigned description_vq() const { return desc_vq_; }
  const StopCache& cache() const { return cache_; }

 private:
  GuestTarget(kvm::Backend& backend, GuestOptions options);
  Result<unsigned> vcpu_of(gdbstub::ThreadId tid);
  struct RegRef {
    unsigned vcpu;
    const xml::RegSpec* spec;
    VcpuVl vl;
  };
  Result<RegRef> locate(gdbstub::ThreadId tid, unsigned regnum);
  Result<TranslationRegs> translation_regs(unsigned vcpu);
  // Runs `chunk(pa, offset, n)` over the guest-physical pieces of
  // [addr, addr+len) (virtual unless `monitor phys on`); `done` is how many
  // bytes were handled. An error only when nothing was.
  Status access_memory(
      gdbstub::ThreadId tid, std::uint64_t addr, std::size_t len,
      const std::function<Result<std::size_t>(std::uint64_t pa, std::size_t offset, std::size_t n)>& chunk,
      std::size_t& done);
  // A write of [addr, addr+len) in guest-physical pieces: an error when any
  // byte does not translate. `offset` is the piece's place in the write.
  struct PhysPiece {
    std::uint64_t pa;
    std::size_t offset;
    std::size_t n;
  };
  Result<std::vector<PhysPiece>> write_pieces(gdbstub::ThreadId tid, std::uint64_t addr, std::size_t len);
  // EFAULT unless every byte of [pa, pa+n) is guest RAM.
  Status check_ram(std::uint64_t pa, std::size_t n);
  // All or nothing: an error leaves guest memory unchanged.
  Status write_guest(gdbstub::ThreadId tid, std::uint64_t addr, std::span<const std::byte> data);
  Result<std::string> translate_report(std::string_view arg);
  unsigned size_vq(const VcpuVl& vl) const;
  const std::vector<xml::RegSpec>& table() const;
  Result<Bytes> read_reg(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl);
  // One register write (of a P or G packet) checked against every rule
  // svedbg applies, nothing written yet: nullopt when it changes nothing.
  struct RegChange {
    std::uint64_t id;
    std::string name;
    Bytes old;    // the KVM value now
    Bytes value;  // the KVM value to write
  };
  Result<std::optional<RegChange>> plan_reg_write(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl,
                                                  std::span<const std::byte> data);
  // ERANGE if `data` holds a non-zero byte the vCPU cannot reach at its
  // effective VL (Z, P, FFR); guest_registers.cpp.
  Status check_reachable(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl, std::span<const std::byte> data);
  // Writes `changes` in order; when the backend refuses one, writes back
  // the old values of those before it, so that the vCPU is as it was.
  Status apply_reg_writes(unsigned vcpu, std::span<const RegChange> changes);
  Status write_reg(unsigned vcpu, const xml::RegSpec& spec, const VcpuVl& vl, std::span<const std::byte> data);
  // A system register the vCPU cannot read, written as the zeros `g` shows for it.
  bool unreadable_zeros(unsigned vcpu, const xml::RegSpec& spec, bool sve, std::span<const std::byte> data);
  std::string vls_report();
  std::string stats_report();
  Result<std::string> dump_json_report();
  // The target's own monitor commands (guest_monitor.cpp), then the backend's.
  void add_monitor_commands();
  gdbstub::StopEvent to_stop(const kvm::BackendStop& s);
  Breakpoints::ReadMemory memory_reader();
  Breakpoints::WriteMemory memory_writer();
  Status apply_guest_debug();
  // Fetches a stop reply's expedited registers of `vcpu` in one batch.
  void prefetch_stop_registers(unsigned vcpu);
  // The KVM register behind `spec` on this vCPU: kvm_id_for(), except that
  // gdb's `sp` is the stack pointer in use (PSTATE-dependent, see
  // guest_registers.cpp).
  std::optional<std::uint64_t> kvm_id(unsigned vcpu, const xml::RegSpec& spec, bool sve);
  // Adds what reading `spec` may need to a prefetch list (for `sp`: PSTATE
  // and both stack pointers, so the choice costs no extra round trip).
  static void add_prefetch_ids(std::vector<std::uint64_t>& ids, const xml::RegSpec& spec, bool sve);
  // Completes the all-stop attach() began (AttachStop); every entry point
  // that touches vCPUs or guest memory calls it first. An error is logged
  // once and returned.
  Status settle();
  void clear_debug_state();
  // Non-stop (guest_nonstop.cpp).
  kvm::VcpuRunControl* vcpu_control() const { return run_ ? run_->vcpu_control() : nullptr; }
  // EBUSY when `vcpu` runs (non-stop mode): its registers cannot be read.
  Status check_stopped(unsigned vcpu);
  // The debug state every vCPU should have now.
  kvm::GuestDebug wanted_debug() const;
  // After a breakpoint change: in non-stop mode, applies it to the running
  // vCPUs too where the backend can (debug_while_running()).
  Status apply_debug_now();
  // A thread whose translation registers can be read for breakpoint bytes:
  // the last stop's thread, or in non-stop mode any stopped one.
  gdbstub::ThreadId memory_thread();
  void leave_non_stop();

  kvm::Backend& backend_;
  kvm::RunControl* run_;  // backend_.run_control(): nullptr when the guest never runs
  GuestOptions options_;
  StopCache cache_;
  struct VcpuStatic {
    bool sve = false;
    kvm::VqSet vls;
    std::string probe_error;  // why SVE state is unusable, if it is
  };
  std::vector<VcpuStatic> vcpus_;
  bool sve_ = false;      // description has the SVE feature
  unsigned desc_vq_ = 1;  // description VL in quadwords
  unsigned max_vq_ = 1;   // the largest enabled VL of any vCPU (the Max description)
  // TdescVl::Mode::Effective is in force for this client (false when the
  // mode was asked for but the client is gdb); and, if refused, why.
  bool effective_ = false;
  std::string effective_refused_;
  gdbstub::StopEvent last_stop_{1, gdbstub::Signal::Trap};
  Breakpoints breakpoints_;
  // Single-steps with IRQ/FIQ masked (`monitor step-irq`).
  StepIrq step_irq_;
  bool phys_mode_ = false;                      // `monitor phys on`: m/M addresses are guest-physical
  std::vector<kvm::GuestDebug> applied_debug_;  // what each vCPU has now
  MonitorRegistry monitor_;
  AttachStop attach_stop_;  // a client's stop, begun by attach()
  bool non_stop_ = false;
  std::vector<gdbstub::Signal> stop_signal_;  // per vCPU: what its requested stop reports
};

}  // namespace svedbg::introspect
