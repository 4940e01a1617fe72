// gdbstub::ProcessSlot: one `serve --multi` client's view of the host, as
// the Target its Session talks to.
//
// Contract: a slot starts with no process; every Target call then fails
// with ESRCH "no process attached" (or lists no threads), as gdbserver
// answers before `attach`. attach(pid) checks, in this order, that the pid
// is a process of the host, that the peer may debug it (AccessPolicy), and
// that no other client holds it (the shared HolderTable, which names the
// holder); then it attaches through the ProcessHost, stops the guest
// (Target::attach) and forwards every Target call to it until
// detach_process(). The qSupported features and stop notifier the session
// gave the slot are handed to each process attached. kill_process() is
// refused unless the operator allowed kills. All calls come from the one
// io_context thread, so the HolderTable needs no lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gdbstub/peer.hpp"
#include "gdbstub/peer_policy.hpp"
#include "gdbstub/process_host.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

// pid -> who holds it (Peer::describe()), shared by a daemon's clients.
using HolderTable = std::map<long, std::string>;

struct MultiOptions {
  AccessPolicy policy;
  bool allow_kill = false;  // --allow-kill: `kill` (vKill/k) kills the attached VMM
};

class ProcessSlot final : public Target {
 public:
  ProcessSlot(ProcessHost& host, Peer peer, const MultiOptions& options, HolderTable& holders,
              std::function<void(const std::string&)> log);
  ~ProcessSlot() override;
  ProcessSlot(const ProcessSlot&) = delete;
  ProcessSlot& operator=(const ProcessSlot&) = delete;

  // The processes this peer may debug, for `info os processes`.
  Result<std::vector<ProcessInfo>> visible_processes();
  // Who holds `pid` (empty: nobody).
  std::string holder(long pid) const;
  // vAttach: the stop reply's event on success.
  Result<StopEvent> attach_process(long pid);
  // Lets the attached VMM go (it runs on); Detached::NeverRuns when none was.
  Detached detach_process();
  // vKill / k: EPERM unless allowed; else kills and lets go.
  Status kill_process(std::optional<long> pid);
  bool attached() const { return process_ != nullptr; }
  long pid() const { return pid_; }
  const Peer& peer() const { return peer_; }

  // Target, forwarded to the attached process.
  std::vector<ThreadId> threads() override;
  bool thread_alive(ThreadId tid) override;
  std::string thread_extra_info(ThreadId tid) override;
  unsigned thread_cpu(ThreadId tid) override;
  Result<std::string> features_document(std::string_view annex) override;
  Result<Bytes> read_register(ThreadId tid, unsigned regnum) override;
  Status write_register(ThreadId tid, unsigned regnum, std::span<const std::byte> data) override;
  Result<Bytes> read_all_registers(ThreadId tid) override;
  Status write_all_registers(ThreadId tid, std::span<const std::byte> data) override;
  std::vector<unsigned> expedited_registers(ThreadId tid) override;
  Result<Bytes> read_memory(ThreadId tid, std::uint64_t addr, std::size_t len) override;
  Status write_memory(ThreadId tid, std::uint64_t addr, std::span<const std::byte> data) override;
  Status insert_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) override;
  Status remove_breakpoint(BreakpointType type, std::uint64_t addr, std::uint64_t kind) override;
  Status attach() override;
  void client_features(std::span<const std::string> features) override;
  Status resume(std::span<const ResumeAction> actions) override;
  void interrupt() override;
  std::optional<StopEvent> poll_stop() override;
  void set_stop_notifier(std::function<void()> notify) override;
  StopEvent last_stop() override;
  Result<std::string> monitor(std::string_view command) override;
  Detached detach() override;
  void kill() override;

 private:
  Error no_process() const;
  Result<StopEvent> try_attach(long pid);

  ProcessHost& host_;
  Peer peer_;
  const MultiOptions& options_;
  HolderTable& holders_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<AttachedProcess> process_;
  long pid_ = 0;
  std::vector<std::string> features_;
  std::function<void()> notify_;
};

}  // namespace svedbg::gdbstub
