// libFuzzer target: ELF core reading (introspect::CoreBackend, as
// `svedbg serve --core` and `svedbg dump --core` use it).
//
// Input: the bytes of a core file, handed to CoreBackend::open() through a
// memfd (/proc/self/fd/N), so libelf reads it exactly as it reads a file.
// A malformed core must be refused with an error, never crash or read out
// of bounds. An accepted one is then served as gdb would see it, through
// GuestTarget: the target description, every register of the first vCPUs
// (g and each p), and memory at the start, middle and end of each segment.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_rig.hpp"
#include "introspect/core/core_backend.hpp"
#include "introspect/guest_target.hpp"

using namespace svedbg;

namespace {

void exercise(kvm::Backend& backend) {
  auto target = introspect::GuestTarget::create(backend, {});
  if (!target) return;  // refused (e.g. inconsistent vector lengths): fine
  auto& t = **target;
  (void)t.attach();
  (void)t.features_document("target.xml");
  const auto threads = t.threads();
  for (std::size_t i = 0; i < std::min<std::size_t>(threads.size(), 4); ++i) {
    (void)t.thread_extra_info(threads[i]);
    (void)t.thread_cpu(threads[i]);  // the vCPU index a core recorded
    (void)t.read_all_registers(threads[i]);
    for (unsigned regnum = 0; regnum < 200; ++regnum) (void)t.read_register(threads[i], regnum);
  }
  for (const auto& range : backend.memory_map()) {
    for (std::uint64_t at : {range.gpa, range.gpa + range.size / 2, range.gpa + range.size - 1}) {
      (void)t.read_memory(threads.empty() ? 1 : threads[0], at, 64);
    }
  }
  (void)t.monitor("vls");
  t.detach();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("fuzz_core", 0);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, data, size, 0) == static_cast<ssize_t>(size));
  auto core = introspect::CoreBackend::open("/proc/self/fd/" + std::to_string(fd));
  if (!core) {
    FUZZ_CHECK(!core.error().message.empty());  // a refusal says why
    return 0;
  }
  (void)(*core)->describe();
  exercise(**core);
  return 0;
}
