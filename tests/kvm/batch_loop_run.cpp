// Runs the attach backend's batch loop (kvm/attach/inject_batch.hpp) for real on
// arm64 (under qemu-aarch64 from tests/kvm/check-batch-loop): the words are
// copied into RWX memory exactly as the backend writes them into the VMM,
// with a table laid out by batch::plan(), and entered with x19 = table,
// x20 = count. There is no KVM here, so the table's ioctls are FIONREAD on
// a pipe (some with a bad fd): what is checked is the loop itself, that it
// runs each entry with its fd/request/arg, stores each raw result (0 or
// -errno, a failure not stopping the rest) and ends at the brk with a
// SIGTRAP (TRAP_BRKPT, pc = kBrkOffset). Exit 0 = pass.
#if !defined(__aarch64__)
#error "build with an aarch64 compiler"
#endif

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kvm/attach/inject_batch.hpp"

using namespace svedbg::kvm;

namespace {

std::uint64_t g_brk = 0;
volatile sig_atomic_t g_traps = 0;
volatile int g_bad_trap = 0;

void on_trap(int, siginfo_t* si, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  if (uc->uc_mcontext.pc != g_brk || si->si_code != TRAP_BRKPT) g_bad_trap = 1;
  g_traps = g_traps + 1;
  uc->uc_mcontext.pc = uc->uc_mcontext.regs[30];  // back to after the blr
}

int fails = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  fails += !ok;
}

void run(std::uint64_t code, std::uint64_t table, std::uint64_t count) {
  register std::uint64_t x19 asm("x19") = table;
  register std::uint64_t x20 asm("x20") = count;
  asm volatile("blr %[code]" : "+r"(x19), "+r"(x20) : [code] "r"(code) : "x0", "x1", "x2", "x8", "x30", "memory", "cc");
}

void put(std::uint64_t at, std::uint64_t v) { std::memcpy(reinterpret_cast<void*>(at), &v, 8); }
std::uint64_t get(std::uint64_t at) {
  std::uint64_t v;
  std::memcpy(&v, reinterpret_cast<const void*>(at), 8);
  return v;
}

}  // namespace

int main() {
  // The code at the start of an RWX mapping (a code cave in the VMM), the
  // table after it (a thread's stack in the VMM).
  constexpr std::size_t kTableAt = 64;
  void* mem = ::mmap(nullptr, kTableAt + batch::kMaxTableBytes, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  const auto base = reinterpret_cast<std::uint64_t>(mem);
  const auto code = batch::code_bytes();
  std::memcpy(mem, code.data(), code.size());
  __builtin___clear_cache(static_cast<char*>(mem), static_cast<char*>(mem) + code.size());
  g_brk = base + batch::kBrkOffset;
  struct sigaction sa {};
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, nullptr);

  int p[2];
  if (::pipe(p) != 0 || ::write(p[1], "hello", 5) != 5) return 1;

  // Four calls laid out by plan(), then turned into FIONREAD: on the pipe
  // (arg = the entry's own kvm_one_reg, i.e. its id field), with a bad fd,
  // on the pipe again, and on the pipe writing into the value slot.
  std::vector<batch::Call> calls{{p[0], 1, 8}, {-1, 2, 8}, {p[0], 3, 8}, {p[0], 4, 256}};
  const auto plan = batch::plan(base + kTableAt, batch::kMaxTableBytes, calls);
  check(plan.count == 4, "plan fits four calls");
  std::memcpy(reinterpret_cast<void*>(plan.table), plan.table_bytes.data(), plan.table_bytes.size());
  for (std::size_t i = 0; i < 4; ++i) put(plan.table + i * batch::kEntryBytes + 8, FIONREAD);
  put(plan.table + 3 * batch::kEntryBytes + 16, plan.table + plan.value_offset[3]);
  std::memset(reinterpret_cast<void*>(plan.table + plan.value_offset[3]), 0xee, 256);

  run(base, plan.table, plan.count);
  check(g_traps == 1 && !g_bad_trap, "the loop ends in brk #0 at kBrkOffset (SIGTRAP, TRAP_BRKPT)");
  std::vector<std::byte> back(plan.read_bytes);
  std::memcpy(back.data(), reinterpret_cast<const void*>(plan.table), back.size());
  check(batch::result_of(back, 0) == 0, "entry 0: ioctl returned 0");
  check((get(plan.table + 32) & 0xffffffff) == 5, "entry 0: FIONREAD wrote 5 at arg (its kvm_one_reg)");
  check(batch::result_of(back, 1) == -EBADF, "entry 1: bad fd: result -EBADF");
  check(batch::result_of(back, 2) == 0, "entry 2: runs after a failed one");
  check(batch::result_of(back, 3) == 0, "entry 3: ioctl returned 0");
  const auto value = batch::value_of(plan, back, 3);
  check(value.size() == 256 && std::to_integer<unsigned>(value[0]) == 5 && std::to_integer<unsigned>(value[4]) == 0xee,
        "entry 3: its value slot holds what the ioctl wrote");

  // An empty table: straight to the brk, nothing touched.
  put(plan.table + 24, static_cast<std::uint64_t>(batch::kNotRun));
  run(base, plan.table, 0);
  check(g_traps == 2 && !g_bad_trap, "count 0: straight to the brk");
  check(static_cast<std::int64_t>(get(plan.table + 24)) == batch::kNotRun, "count 0: no entry run");

  std::printf(fails ? "FAIL: the batch loop misbehaves\n" : "OK: the batch loop runs its table and stops at the brk\n");
  return fails ? 1 : 0;
}
