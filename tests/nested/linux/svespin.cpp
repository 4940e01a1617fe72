// svespin: a static SVE test program for the Linux L2 guest of the nested
// tests (tests/nested/linux-l2.sh). It chooses its own vector length with
// prctl(PR_SVE_SET_VL) (Documentation/arm64/sve.rst, "prctl extensions"),
// fills every SVE register with values derived from its pid and VL, prints
// one line describing itself, and spins for ever without a system call (a
// syscall would discard the SVE state, sve_user_discard() in
// arch/arm64/kernel/syscall.c, so the registers stay the task's own and the
// kernel saves them in thread.sve_state whenever it is switched out).
//
//   svespin VL_BITS [spin|sleep]
//
// Printed: "svespin: pid P vl V state 0xADDR", ADDR the address of
// `g_state` (the same in every process: a static non-PIE binary), whose
// fields are {magic, pid, vl, counter}. In the loop x19 is the counter (also
// stored to g_state.counter on every iteration), x20 &g_state.counter, x21
// the pid and x22 the VL in bits, so a debugger can tell the task on a vCPU
// from its registers alone.
//
// Register contents (what tests/nested/cases/linux_*.gdb check):
//   z<n>.d[i] = (pid << 32) | (vl_bits << 12) | (n << 6) | i   (64-bit lanes)
//   p<n>      = whilelo .b for the first ((pid + 5*n) % vl_bytes) + 1 bytes
//   ffr       = whilelo .b for the first ((pid * 3) % vl_bytes) + 1 bytes
// `sleep` mode (no SVE after setup): counter++ then nanosleep(20 ms), a task
// woken by an hrtimer (hrtimer_wakeup) 50 times a second.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#ifndef PR_SVE_SET_VL
#define PR_SVE_SET_VL 50
#endif

struct State {
  std::uint64_t magic;  // "SVESPIN1"
  std::uint64_t pid;
  std::uint64_t vl;
  std::uint64_t counter;
};
alignas(64) State g_state = {0x314e495053455653ULL, 0, 0, 0};

namespace {

// z<n>.d[i] = base + (n << 6) + i: INDEX with a scalar start and step 1.
#define SVESPIN_Z(n) "index z" #n ".d, x9, #1\n add x9, x9, #64\n"
#define SVESPIN_P(n) "whilelo p" #n ".b, xzr, %[k" #n "]\n"

void fill_sve(std::uint64_t pid, std::uint64_t vl_bits) {
  const std::uint64_t vl_bytes = vl_bits / 8;
  std::uint64_t k[17];
  for (unsigned n = 0; n < 16; ++n) k[n] = (pid + 5 * n) % vl_bytes + 1;
  k[16] = (pid * 3) % vl_bytes + 1;
  const std::uint64_t base = (pid << 32) | (vl_bits << 12);
  asm volatile(
      // FFR first (WRFFR takes a predicate), then P0-P15 and Z0-Z31.
      "whilelo p0.b, xzr, %[kf]\n wrffr p0.b\n"
      SVESPIN_P(0) SVESPIN_P(1) SVESPIN_P(2) SVESPIN_P(3) SVESPIN_P(4) SVESPIN_P(5) SVESPIN_P(6)
      SVESPIN_P(7) SVESPIN_P(8) SVESPIN_P(9) SVESPIN_P(10) SVESPIN_P(11) SVESPIN_P(12) SVESPIN_P(13)
      SVESPIN_P(14) SVESPIN_P(15)
      "mov x9, %[base]\n"
      SVESPIN_Z(0) SVESPIN_Z(1) SVESPIN_Z(2) SVESPIN_Z(3) SVESPIN_Z(4) SVESPIN_Z(5) SVESPIN_Z(6)
      SVESPIN_Z(7) SVESPIN_Z(8) SVESPIN_Z(9) SVESPIN_Z(10) SVESPIN_Z(11) SVESPIN_Z(12) SVESPIN_Z(13)
      SVESPIN_Z(14) SVESPIN_Z(15) SVESPIN_Z(16) SVESPIN_Z(17) SVESPIN_Z(18) SVESPIN_Z(19) SVESPIN_Z(20)
      SVESPIN_Z(21) SVESPIN_Z(22) SVESPIN_Z(23) SVESPIN_Z(24) SVESPIN_Z(25) SVESPIN_Z(26) SVESPIN_Z(27)
      SVESPIN_Z(28) SVESPIN_Z(29) SVESPIN_Z(30) SVESPIN_Z(31)
      :
      : [base] "r"(base), [kf] "r"(k[16]), [k0] "r"(k[0]), [k1] "r"(k[1]), [k2] "r"(k[2]), [k3] "r"(k[3]),
        [k4] "r"(k[4]), [k5] "r"(k[5]), [k6] "r"(k[6]), [k7] "r"(k[7]), [k8] "r"(k[8]), [k9] "r"(k[9]),
        [k10] "r"(k[10]), [k11] "r"(k[11]), [k12] "r"(k[12]), [k13] "r"(k[13]), [k14] "r"(k[14]),
        [k15] "r"(k[15])
      : "x9", "memory");
}

[[noreturn]] void spin(std::uint64_t pid, std::uint64_t vl_bits) {
  // The SVE registers must not be touched from here on: no calls, no
  // syscalls. x19-x22 as described above.
  asm volatile(
      "mov x19, #0\n mov x20, %[ctr]\n mov x21, %[pid]\n mov x22, %[vl]\n"
      "1: add x19, x19, #1\n str x19, [x20]\n b 1b\n"
      :
      : [ctr] "r"(&g_state.counter), [pid] "r"(pid), [vl] "r"(vl_bits)
      : "x19", "x20", "x21", "x22", "memory");
  __builtin_unreachable();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: svespin VL_BITS [spin|sleep]\n");
    return 2;
  }
  const unsigned long vl_bits = std::strtoul(argv[1], nullptr, 0);
  const bool sleep_mode = argc > 2 && std::strcmp(argv[2], "sleep") == 0;
  const int r = prctl(PR_SVE_SET_VL, vl_bits / 8);
  if (r < 0 || static_cast<unsigned long>(r & 0xffff) != vl_bits / 8) {
    std::printf("svespin: PR_SVE_SET_VL %lu bits FAILED: returned %d\n", vl_bits, r);
    return 1;
  }
  const std::uint64_t pid = static_cast<std::uint64_t>(getpid());
  g_state.pid = pid;
  g_state.vl = vl_bits;
  std::printf("svespin: pid %llu vl %lu state %p mode %s\n", static_cast<unsigned long long>(pid), vl_bits,
              static_cast<void*>(&g_state), sleep_mode ? "sleep" : "spin");
  std::fflush(stdout);
  if (sleep_mode) {
    const timespec ts{0, 20 * 1000 * 1000};
    for (;;) {
      g_state.counter = g_state.counter + 1;
      nanosleep(&ts, nullptr);
    }
  }
  fill_sve(pid, vl_bits);
  spin(pid, vl_bits);
}
