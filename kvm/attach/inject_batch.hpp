// kvm/inject_batch: many KVM_GET_ONE_REG calls in one trip into an attached
// VMM, the arch-independent part: the machine code the VMM runs
// and the layout of its table. kvm::AttachBackend does the ptrace side
// (attach_backend.hpp).
//
// Contract: the attach backend writes kLoopCode into a code cave of the
// VMM (kvm/attach/code_cave.hpp: executable bytes the VMM never runs) for the
// length of a stop, and per trip writes a table of Entry records (plan())
// on the stack of one stopped VMM thread, below its sp, points that
// thread's pc at the code with x19 = the table and x20 = the number of
// entries, and lets it run (PTRACE_CONT). The loop issues
// ioctl(entry.fd, entry.request, entry.arg) for each entry in order, stores
// the raw return value (0 or -errno) in entry.result, and stops at the
// `brk #0` at kBrkOffset (a SIGTRAP the backend takes and never delivers).
// It uses no stack and only x0-x2, x8, x19, x20 (all restored afterwards).
// For KVM_GET_ONE_REG, entry.arg points at the entry's own struct
// kvm_one_reg {id, addr}, and addr at the register's value slot after the
// table. An entry the loop did not reach keeps result kNotRun.
// The words below are checked against GNU as (tests/kvm/check-batch-loop
// assembles each comment and compares, then runs the loop under
// qemu-aarch64 with real ioctls).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.hpp"

namespace svedbg::kvm::batch {

// clang-format off
// The loop. x19: next entry; x20: entries left.
inline constexpr std::uint32_t kLoopTest    = 0xb4000134;  // cbz x20, .+36
inline constexpr std::uint32_t kLoopLoadFd  = 0xa9400660;  // ldp x0, x1, [x19]
inline constexpr std::uint32_t kLoopLoadArg = 0xf9400a62;  // ldr x2, [x19, #16]
inline constexpr std::uint32_t kLoopNr      = 0xd28003a8;  // mov x8, #29
inline constexpr std::uint32_t kLoopSvc     = 0xd4000001;  // svc #0
inline constexpr std::uint32_t kLoopStore   = 0xf9000e60;  // str x0, [x19, #24]
inline constexpr std::uint32_t kLoopNext    = 0x9100c273;  // add x19, x19, #48
inline constexpr std::uint32_t kLoopCount   = 0xd1000694;  // sub x20, x20, #1
inline constexpr std::uint32_t kLoopBack    = 0x17fffff8;  // b .-32
inline constexpr std::uint32_t kLoopBrk     = 0xd4200000;  // brk #0
// clang-format on
inline constexpr std::array<std::uint32_t, 10> kLoopCode = {kLoopTest,  kLoopLoadFd, kLoopLoadArg, kLoopNr,   kLoopSvc,
                                                            kLoopStore, kLoopNext,   kLoopCount,   kLoopBack, kLoopBrk};
inline constexpr std::uint64_t kBrkOffset = 36;  // where the loop stops
static_assert(kLoopCode[kBrkOffset / 4] == kLoopBrk);

// KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, struct kvm_one_reg): the same number
// on every architecture (attach_backend.cpp checks it against <linux/kvm.h>).
inline constexpr std::uint64_t kKvmGetOneReg = 0x4010aeab;

// Most bytes of table and values one trip puts below a thread's sp (a
// full register set at VL 2048 is about 15 KiB).
inline constexpr std::size_t kMaxTableBytes = 64 * 1024;

// One table entry as the loop and KVM see it (48 bytes, little-endian).
struct Entry {
  std::uint64_t fd;  // ldp x0, x1
  std::uint64_t request;
  std::uint64_t arg;    // ldr x2: here &id (struct kvm_one_reg)
  std::int64_t result;  // str x0: 0 or -errno
  std::uint64_t id;     // struct kvm_one_reg { __u64 id; __u64 addr; }
  std::uint64_t addr;
};
inline constexpr std::size_t kEntryBytes = 48;
static_assert(sizeof(Entry) == kEntryBytes);
inline constexpr std::int64_t kNotRun = 1;  // no ioctl returns 1 here

// The code as bytes (little-endian words).
std::array<std::byte, 4 * kLoopCode.size()> code_bytes();

// One KVM_GET_ONE_REG to make.
struct Call {
  int fd = -1;           // the VMM's vCPU fd
  std::uint64_t id = 0;  // KVM register ID
  std::size_t size = 0;  // kvm::reg_size(id)
};

// One trip: the first `count` calls, their table at VMM address `table`.
struct Plan {
  std::size_t count = 0;
  std::uint64_t table = 0;                // VMM address of the table (x19)
  std::vector<std::byte> table_bytes;     // written at `table` before the trip
  std::vector<std::size_t> value_offset;  // per call: its value, as an offset from `table`
  std::vector<std::size_t> value_size;    // per call: its size
  std::size_t read_bytes = 0;             // table plus values, read back from `table` after it
};
// As many calls from the front of `calls` as fit in `room` bytes of table
// and values from `table` on (8-aligned); count 0: the first call does not
// fit.
Plan plan(std::uint64_t table, std::size_t room, std::span<const Call> calls);

// After the trip, from the `plan.read_bytes` read back at plan.table:
// call i's raw return value and value bytes.
std::int64_t result_of(std::span<const std::byte> readback, std::size_t i);
std::span<const std::byte> value_of(const Plan& plan, std::span<const std::byte> readback, std::size_t i);
// What a raw result means for the read of register `id` on vCPU `vcpu`
// (0-based): 0 is success; -errno is get_one_reg's error for that errno
// (naming vCPU and register, kvm/one_reg.hpp); kNotRun (or anything else)
// is EIO.
Status status_of(std::int64_t result, unsigned vcpu, std::uint64_t id);

}  // namespace svedbg::kvm::batch
