// kvm::find_code_cave on made-up process images: ELF headers in fake
// memory, mappings as /proc/PID/maps would list them.
#include <elf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <vector>

#include "kvm/attach/code_cave.hpp"

using namespace svedbg;
using kvm::MapEntry;

namespace {

struct Segment {
  std::uint64_t offset, vaddr, size;
  bool exec;
};

// A process's memory: the bytes at a few addresses.
struct FakeMemory {
  std::map<std::uint64_t, std::vector<std::byte>> regions;
  void put_elf(std::uint64_t at, const std::vector<Segment>& segments, std::uint16_t type = ET_DYN) {
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_type = type;
    eh.e_machine = EM_AARCH64;
    eh.e_phoff = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = static_cast<std::uint16_t>(segments.size() + 1);
    std::vector<std::byte> bytes(sizeof eh + eh.e_phnum * sizeof(Elf64_Phdr));
    std::memcpy(bytes.data(), &eh, sizeof eh);
    Elf64_Phdr note{};  // not a PT_LOAD: ignored
    note.p_type = PT_GNU_STACK;
    note.p_flags = PF_R | PF_W | PF_X;
    std::memcpy(bytes.data() + sizeof eh, &note, sizeof note);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      Elf64_Phdr ph{};
      ph.p_type = PT_LOAD;
      ph.p_flags = PF_R | (segments[i].exec ? PF_X : 0);
      ph.p_offset = segments[i].offset;
      ph.p_vaddr = segments[i].vaddr;
      ph.p_filesz = ph.p_memsz = segments[i].size;
      std::memcpy(bytes.data() + sizeof eh + (i + 1) * sizeof ph, &ph, sizeof ph);
    }
    regions[at] = bytes;
  }
  kvm::PeekFn peek() const {
    return [this](std::uint64_t addr, void* out, std::size_t len) {
      for (const auto& [at, bytes] : regions)
        if (addr >= at && addr + len <= at + bytes.size()) {
          std::memcpy(out, bytes.data() + (addr - at), len);
          return true;
        }
      return false;
    };
  }
};

MapEntry map(std::uint64_t start, std::uint64_t end, const char* perms, std::uint64_t offset, const char* path) {
  MapEntry m;
  m.start = start;
  m.end = end;
  m.read = perms[0] == 'r';
  m.write = perms[1] == 'w';
  m.exec = perms[2] == 'x';
  m.offset = offset;
  m.path = path;
  return m;
}

constexpr std::uint64_t kPage = 4096;

}  // namespace

TEST_CASE("code cave: the rest of the last page of a library's executable segment", "[code_cave]") {
  FakeMemory mem;
  const std::uint64_t base = 0x7f0000000000;
  // Headers and rodata in a read-only segment, code from 0x1000 to 0x2f00.
  mem.put_elf(base, {{0, 0, 0x800, false}, {0x1000, 0x1000, 0x1f00, true}, {0x3000, 0x13000, 0x100, false}});
  const std::vector<MapEntry> maps{map(base, base + 0x1000, "r--p", 0, "/usr/lib/libx.so"),
                                   map(base + 0x1000, base + 0x3000, "r-xp", 0x1000, "/usr/lib/libx.so"),
                                   map(base + 0x13000, base + 0x14000, "rw-p", 0x3000, "/usr/lib/libx.so")};
  auto cave = kvm::find_code_cave(maps, 40, kPage, mem.peek());
  REQUIRE(cave);
  CHECK(cave->addr == base + 0x2f00);
  CHECK(cave->size == 0x100);
  CHECK(cave->path == "/usr/lib/libx.so");
  // More than the page has left: none.
  CHECK_FALSE(kvm::find_code_cave(maps, 0x101, kPage, mem.peek()));
}

TEST_CASE("code cave: the end is 16-aligned; a file without room is passed over", "[code_cave]") {
  FakeMemory mem;
  const std::uint64_t a = 0x7f0000000000, b = 0x7f1000000000;
  // a: code ends at 0x1fd4 -> 0x1fe0, 32 bytes to the page end: too few for 40.
  mem.put_elf(a, {{0, 0, 0x1fd4, true}});
  // b: a non-PIE executable (bias 0) whose code ends at 0x400a38 -> 0x400a40.
  mem.put_elf(b, {{0, 0x400000, 0xa38, true}}, ET_EXEC);
  const std::vector<MapEntry> maps{map(a, a + 0x2000, "r-xp", 0, "/a.so"),
                                   map(0x400000, 0x401000, "r-xp", 0, "/usr/bin/vmm"),
                                   map(0x7e0000000000, 0x7e0000001000, "r-xp", 0, "")};
  mem.regions[0x400000] = mem.regions[b];  // the executable's header where it is mapped
  auto cave = kvm::find_code_cave(maps, 40, kPage, mem.peek());
  REQUIRE(cave);
  CHECK(cave->addr == 0x400a40);
  CHECK(cave->addr % 16 == 0);
  CHECK(cave->size == 0x1000 - 0xa40);
  CHECK(cave->path == "/usr/bin/vmm");
  // With room for 32 bytes, the first file does.
  auto small = kvm::find_code_cave(maps, 32, kPage, mem.peek());
  REQUIRE(small);
  CHECK(small->addr == a + 0x1fe0);
}

TEST_CASE("code cave: none where segments end on a page boundary, or the page is not mapped executable",
          "[code_cave]") {
  FakeMemory mem;
  const std::uint64_t base = 0x7f0000000000;
  mem.put_elf(base, {{0, 0, 0x2000, true}});
  std::vector<MapEntry> maps{map(base, base + 0x2000, "r-xp", 0, "/full.so")};
  CHECK_FALSE(kvm::find_code_cave(maps, 4, kPage, mem.peek()));

  FakeMemory mem2;
  mem2.put_elf(base, {{0, 0, 0x800, true}});
  // The mapping stops short of the page end (or is not executable): no.
  std::vector<MapEntry> short_map{map(base, base + 0x800, "r-xp", 0, "/short.so")};
  CHECK_FALSE(kvm::find_code_cave(short_map, 40, kPage, mem2.peek()));
  std::vector<MapEntry> not_exec{map(base, base + 0x1000, "r--p", 0, "/short.so"),
                                 map(base + 0x1000, base + 0x2000, "r-xp", 0x1000, "/short.so")};
  CHECK_FALSE(kvm::find_code_cave(not_exec, 40, kPage, mem2.peek()));
}

TEST_CASE("code cave: 64 KiB pages; headers that are not ELF64 or cannot be read are skipped", "[code_cave]") {
  FakeMemory mem;
  const std::uint64_t base = 0xffff80000000;
  mem.put_elf(base, {{0, 0, 0x12345, true}});
  std::vector<MapEntry> maps{map(base, base + 0x20000, "r-xp", 0, "/lib64k.so")};
  auto cave = kvm::find_code_cave(maps, 40, 0x10000, mem.peek());
  REQUIRE(cave);
  CHECK(cave->addr == base + 0x12350);
  CHECK(cave->size == 0x20000 - 0x12350);

  mem.regions[base][EI_CLASS] = std::byte{ELFCLASS32};
  CHECK_FALSE(kvm::find_code_cave(maps, 40, 0x10000, mem.peek()));
  FakeMemory empty;  // nothing readable
  CHECK_FALSE(kvm::find_code_cave(maps, 40, 0x10000, empty.peek()));
  CHECK_FALSE(kvm::find_code_cave(maps, 40, 3000, mem.peek()));  // not a power of two
}
