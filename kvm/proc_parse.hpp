// kvm/proc_parse: what /proc tells about a running KVM VMM, as pure text
// parsers (arch-independent, unit-tested with fixture text on any host).
//
// Contract:
//  - parse_fd_link(): the target of a /proc/PID/fd/N link. KVM's anonymous
//    inodes read "anon_inode:kvm-vm" (KVM_CREATE_VM) and
//    "anon_inode:kvm-vcpu:N" (KVM_CREATE_VCPU; N is the vCPU id the VMM
//    passed, decimal). Anything else is FdKind::Other.
//  - parse_syscall(): /proc/PID/task/TID/syscall (proc(5)): "running";
//    "-1 SP PC" (blocked, not in a system call); "NR A0 .. A5 SP PC" (blocked
//    in system call NR; numbers are decimal NR, hex 0x... for the rest).
//    is_kvm_run() tells a thread blocked in ioctl(fd, KVM_RUN, 0) on arm64
//    (ioctl is syscall 29 there; KVM_RUN is _IO(0xAE, 0x80) = 0xae80).
//  - parse_maps(): /proc/PID/maps lines (start-end perms offset dev inode
//    [path]); unparsable lines are skipped.
//  - guest_ram_from_maps(): guest RAM that names itself in the maps: a
//    mapping of a memfd named "svedbg-guest-ram@gpa=0xGPA" (svedbg-vmm's
//    convention, shown as "/memfd:svedbg-guest-ram@gpa=0x... (deleted)")
//    is guest-physical GPA + file offset at its start address.
//  - parse_mem_spec(): the --mem option: "GPA:SIZE", "GPA:SIZE@HVA" or
//    "GPA:HVA:SIZE" (each a C integer literal: 0x hex or decimal; SIZE also
//    with a K/M/G suffix). Without an HVA the range's hva is 0 (unknown).
//  - resolve_guest_ram(): checks a given HVA range against the VMM's
//    mappings (readable, writable, no gap), or finds an unknown HVA: the one
//    readable, writable mapping of exactly SIZE bytes (QEMU's `-m` RAM);
//    none or several is an error saying to give @HVA.
//  - parse_decimal(): a whole string as a decimal number of type T (pids,
//    fds, ids in /proc names and files); nullopt for anything else.
//    decimal_names(): the numeric entries of a directory, ascending.
//    strip_line_end(): a one-line /proc file (comm, a debugfs pid) without
//    its line end. parse_cmdline(): /proc/PID/cmdline, the arguments each
//    ended by a NUL (a last one without it counts too).
//  - status_value(): a field of /proc/PID/status or task/TID/status
//    (proc(5)): one "Key:<blanks>value" per line. status_number() is a
//    field's first decimal number (Uid: the real uid; TracerPid: 0 when
//    not traced), status_mask() a hex mask field (SigBlk, SigIgn, CapEff);
//    both nullopt when the key is absent or its value does not parse.
//  - parse_stat_flags(): the flags field (the 9th) of /proc/PID/stat or
//    task/TID/stat, found after the last ')' since the comm may hold spaces
//    and parentheses; kPf* are its bits (include/linux/sched.h).
//  - find_svc(): offset of the first 4-byte aligned `svc #0` (0xd4000001,
//    little-endian) in a block of code, for syscall injection.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svedbg::kvm {

enum class FdKind { Other, Vm, Vcpu };
struct FdLink {
  FdKind kind = FdKind::Other;
  unsigned vcpu_id = 0;  // for Vcpu
};
FdLink parse_fd_link(std::string_view target);

inline constexpr long kArm64NrIoctl = 29;         // __NR_ioctl (asm-generic/unistd.h)
inline constexpr std::uint64_t kKvmRun = 0xae80;  // KVM_RUN = _IO(KVMIO, 0x80)

struct SyscallState {
  enum class Kind { Running, NotInSyscall, InSyscall } kind = Kind::Running;
  long nr = -1;
  std::array<std::uint64_t, 6> args{};
  std::uint64_t sp = 0, pc = 0;
  bool is_kvm_run() const { return kind == Kind::InSyscall && nr == kArm64NrIoctl && args[1] == kKvmRun; }
};
Result<SyscallState> parse_syscall(std::string_view text);

struct MapEntry {
  std::uint64_t start = 0, end = 0;
  bool read = false, write = false, exec = false, shared = false;
  std::uint64_t offset = 0;
  std::string path;  // may be empty (anonymous)
};
std::vector<MapEntry> parse_maps(std::string_view text);

struct RamRange {
  std::uint64_t gpa = 0;
  std::uint64_t hva = 0;
  std::uint64_t size = 0;
  bool operator==(const RamRange&) const = default;
};
inline constexpr std::string_view kGuestRamMemfdName = "svedbg-guest-ram@gpa=";
std::vector<RamRange> guest_ram_from_maps(const std::vector<MapEntry>& maps);
Result<RamRange> parse_mem_spec(std::string_view spec);
Result<RamRange> resolve_guest_ram(const RamRange& spec, const std::vector<MapEntry>& maps);

template <typename T>
std::optional<T> parse_decimal(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
// The names that are decimal numbers (pids in /proc, TIDs in task/, fds in
// fd/), ascending; the others are left out.
template <typename T>
std::vector<T> decimal_names(const std::vector<std::string>& names) {
  std::vector<T> out;
  for (const auto& n : names)
    if (auto v = parse_decimal<T>(n)) out.push_back(*v);
  std::sort(out.begin(), out.end());
  return out;
}
std::string strip_line_end(std::string s);
std::vector<std::string> parse_cmdline(std::string_view text);

// The value text of `key` in status text (blanks after the colon removed,
// up to the end of its line); nullopt when the key is absent.
std::optional<std::string_view> status_value(std::string_view status, std::string_view key);
std::optional<long> status_number(std::string_view status, std::string_view key);
std::optional<std::uint64_t> status_mask(std::string_view status, std::string_view key);

inline constexpr unsigned long kPfIoWorker = 0x00000010;    // PF_IO_WORKER: io_uring's worker
inline constexpr unsigned long kPfUserWorker = 0x00004000;  // PF_USER_WORKER: e.g. a vhost_task
inline constexpr unsigned long kPfKthread = 0x00200000;     // PF_KTHREAD: a kernel thread
std::optional<unsigned long> parse_stat_flags(std::string_view stat);

std::optional<std::size_t> find_svc(std::span<const std::byte> code);

}  // namespace svedbg::kvm
