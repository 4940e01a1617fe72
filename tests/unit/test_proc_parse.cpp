// kvm/proc_parse.hpp: /proc text of a KVM VMM (fixtures taken from an arm64
// svedbg-vmm in the nested VM, plus edge cases).
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kvm/proc_parse.hpp"

using namespace svedbg;
using kvm::FdKind;

TEST_CASE("fd links: kvm-vm, kvm-vcpu:N, others", "[proc_parse]") {
  CHECK(kvm::parse_fd_link("anon_inode:kvm-vm").kind == FdKind::Vm);
  auto v = kvm::parse_fd_link("anon_inode:kvm-vcpu:3");
  CHECK(v.kind == FdKind::Vcpu);
  CHECK(v.vcpu_id == 3);
  CHECK(kvm::parse_fd_link("anon_inode:kvm-vcpu:17").vcpu_id == 17);
  CHECK(kvm::parse_fd_link("anon_inode:kvm-vcpu:").kind == FdKind::Other);
  CHECK(kvm::parse_fd_link("anon_inode:kvm-vcpu:x").kind == FdKind::Other);
  CHECK(kvm::parse_fd_link("anon_inode:kvm-vcpu:1 ").kind == FdKind::Other);
  CHECK(kvm::parse_fd_link("/dev/kvm").kind == FdKind::Other);
  CHECK(kvm::parse_fd_link("anon_inode:[eventfd]").kind == FdKind::Other);
  CHECK(kvm::parse_fd_link("socket:[1234]").kind == FdKind::Other);
}

TEST_CASE("syscall: a vCPU thread blocked in KVM_RUN", "[proc_parse]") {
  auto s = kvm::parse_syscall("29 0xc 0xae80 0x0 0x0 0x0 0x0 0xffffa1b2e9f0 0x4a3c28\n");
  REQUIRE(s);
  CHECK(s->kind == kvm::SyscallState::Kind::InSyscall);
  CHECK(s->nr == 29);
  CHECK(s->args[0] == 12);
  CHECK(s->args[1] == 0xae80);
  CHECK(s->sp == 0xffffa1b2e9f0);
  CHECK(s->pc == 0x4a3c28);
  CHECK(s->is_kvm_run());
}

TEST_CASE("syscall: other states", "[proc_parse]") {
  auto futex = kvm::parse_syscall("98 0xffffa1b2f270 0x0 0x1c5 0x0 0x0 0x0 0xfffff0e0 0x40f1c8\n");
  REQUIRE(futex);
  CHECK_FALSE(futex->is_kvm_run());
  auto other_ioctl = kvm::parse_syscall("29 0xc 0x4010aeab 0xffffd000 0x0 0x0 0x0 0xfffff0e0 0x40f1c8");
  REQUIRE(other_ioctl);
  CHECK_FALSE(other_ioctl->is_kvm_run());
  auto running = kvm::parse_syscall("running\n");
  REQUIRE(running);
  CHECK(running->kind == kvm::SyscallState::Kind::Running);
  auto user = kvm::parse_syscall("-1 0xfffff0e0 0x40f1c8\n");
  REQUIRE(user);
  CHECK(user->kind == kvm::SyscallState::Kind::NotInSyscall);
  CHECK(user->pc == 0x40f1c8);
  CHECK_FALSE(kvm::parse_syscall(""));
  CHECK_FALSE(kvm::parse_syscall("29 0xc 0xae80"));
  CHECK_FALSE(kvm::parse_syscall("29 0xc 0xae80 0x0 0x0 0x0 0x0 0xzz 0x1"));
}

constexpr const char* kMaps =
    "00400000-004f0000 r-xp 00000000 00:02 12 /bin/svedbg-vmm\n"
    "00500000-00510000 rw-p 000f0000 00:02 12 /bin/svedbg-vmm\n"
    "ffff7c000000-ffff7c800000 rw-s 00000000 00:01 7 /memfd:svedbg-guest-ram@gpa=0x40000000 (deleted)\n"
    "ffff7c800000-ffff7d000000 rw-s 00800000 00:01 7 /memfd:svedbg-guest-ram@gpa=0x40000000 (deleted)\n"
    "ffff7e000000-ffff7e100000 rw-s 00000000 00:01 9 /memfd:other (deleted)\n"
    "ffff80000000-ffff80002000 rw-s 00000000 00:0d 1 anon_inode:kvm-vcpu:0\n"
    "garbage line\n"
    "ffffa0000000-ffffa0001000 r-xp 00000000 00:00 0                          [vdso]\n"
    "fffff0000000-fffff0021000 rw-p 00000000 00:00 0 [stack]\n";

TEST_CASE("maps: entries, permissions, paths", "[proc_parse]") {
  auto m = kvm::parse_maps(kMaps);
  REQUIRE(m.size() == 8);
  CHECK(m[0].start == 0x400000);
  CHECK(m[0].end == 0x4f0000);
  CHECK(m[0].exec);
  CHECK_FALSE(m[0].write);
  CHECK(m[0].path == "/bin/svedbg-vmm");
  CHECK(m[1].offset == 0xf0000);
  CHECK(m[2].shared);
  CHECK(m[2].path == "/memfd:svedbg-guest-ram@gpa=0x40000000 (deleted)");
  CHECK(m[6].path == "[vdso]");
  CHECK(m[6].exec);
}

TEST_CASE("maps: guest RAM from svedbg-vmm's memfd name, split mappings", "[proc_parse]") {
  auto ram = kvm::guest_ram_from_maps(kvm::parse_maps(kMaps));
  REQUIRE(ram.size() == 2);
  CHECK(ram[0] == kvm::RamRange{0x40000000, 0xffff7c000000, 0x800000});
  CHECK(ram[1] == kvm::RamRange{0x40800000, 0xffff7c800000, 0x800000});
  CHECK(kvm::guest_ram_from_maps(kvm::parse_maps("00400000-004f0000 r-xp 00000000 00:02 12 /bin/qemu\n")).empty());
}

TEST_CASE("mem option GPA:HVA:SIZE", "[proc_parse]") {
  auto r = kvm::parse_mem_spec("0x40000000:0xffff7c000000:16M");
  REQUIRE(r);
  CHECK(*r == kvm::RamRange{0x40000000, 0xffff7c000000, 16u << 20});
  auto d = kvm::parse_mem_spec("4096:8192:4096");
  REQUIRE(d);
  CHECK(*d == kvm::RamRange{4096, 8192, 4096});
  CHECK(kvm::parse_mem_spec("0x1000:0x2000:4k")->size == 4096);
  CHECK(*kvm::parse_mem_spec("0x40000000:64M@0xffff7c000000") == kvm::RamRange{0x40000000, 0xffff7c000000, 64u << 20});
  CHECK(*kvm::parse_mem_spec("0x40000000:64M") == kvm::RamRange{0x40000000, 0, 64u << 20});  // HVA from the maps
  for (const char* bad : {"", "0x1000", "0x1000:0", "0x1000:0x2000:0", "0x1000:0x2000:0x10:5", "zz:0x2000:1",
                          "0x1000:0x2000:1T", "0xffffffffffffffff:0:2", "0:0:0xffffffffffffffffG", "0x1000:0:16",
                          "0x1000:16@", "0x1000:16@0", "0x1000:16@zz", "0x1000:0x2000:16@0x3000", ":16"}) {
    INFO(bad);
    auto e = kvm::parse_mem_spec(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == EINVAL);
  }
}

TEST_CASE("resolve_guest_ram: a given HVA is checked, a missing one found by size", "[proc_parse]") {
  const auto maps = kvm::parse_maps(
      "aaaac0000000-aaaac0100000 r-xp 00000000 08:01 123 /usr/bin/qemu-system-aarch64\n"
      "ffff70000000-ffff74000000 rw-p 00000000 00:00 0 \n"
      "ffff74000000-ffff74001000 ---p 00000000 00:00 0 \n"
      "ffff75000000-ffff75800000 rw-p 00000000 00:00 0 \n"
      "ffff75800000-ffff76000000 rw-s 00000000 00:01 9 /memfd:ram (deleted)\n"
      "ffff76000000-ffff76800000 rw-p 00000000 00:00 0 \n");
  // Found: the one rw mapping of exactly 64 MiB.
  auto r = kvm::resolve_guest_ram({0x40000000, 0, 64u << 20}, maps);
  REQUIRE(r);
  CHECK(r->hva == 0xffff70000000);
  // Several of 8 MiB: refused, listing them.
  r = kvm::resolve_guest_ram({0x40000000, 0, 8u << 20}, maps);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("3 mappings") != std::string::npos);
  CHECK(r.error().message.find("0xffff75800000") != std::string::npos);
  // None of 1 GiB.
  r = kvm::resolve_guest_ram({0x40000000, 0, 1u << 30}, maps);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("@HVA") != std::string::npos);
  // Given: inside rw mappings, also across adjacent ones; not over a gap,
  // a no-access page or outside.
  CHECK(kvm::resolve_guest_ram({0, 0xffff75000000, 24u << 20}, maps));
  CHECK(kvm::resolve_guest_ram({0, 0xffff70001000, 0x1000}, maps));
  CHECK_FALSE(kvm::resolve_guest_ram({0, 0xffff73fff000, 0x2000}, maps));
  CHECK_FALSE(kvm::resolve_guest_ram({0, 0xaaaac0000000, 0x1000}, maps));
  CHECK_FALSE(kvm::resolve_guest_ram({0, 0xffff76000000, 16u << 20}, maps));
}

TEST_CASE("find_svc: first aligned svc #0", "[proc_parse]") {
  std::array<std::byte, 16> code{};
  CHECK_FALSE(kvm::find_svc(code));
  // svc #0 = 0xd4000001, little-endian, at offset 8; an unaligned copy at 1 is ignored.
  code[1] = std::byte{0x01}, code[4] = std::byte{0xd4};
  code[8] = std::byte{0x01}, code[11] = std::byte{0xd4};
  auto at = kvm::find_svc(code);
  REQUIRE(at);
  CHECK(*at == 8);
}

TEST_CASE("status: fields of /proc/PID/status", "[proc_parse]") {
  // As Linux 6.1 writes them (abridged), for a VMM traced by pid 650.
  const std::string status =
      "Name:\tsvedbg-vmm\n"
      "Umask:\t0022\n"
      "State:\tS (sleeping)\n"
      "Tgid:\t612\n"
      "TracerPid:\t650\n"
      "Uid:\t1000\t1001\t1002\t1003\n"
      "SigBlk:\t0000000000000000\n"
      "SigIgn:\t0000000000001000\n"
      "CapEff:\t000001ffffffffff\n";
  CHECK(kvm::status_value(status, "Name") == "svedbg-vmm");
  CHECK(kvm::status_value(status, "State") == "S (sleeping)");
  CHECK(kvm::status_number(status, "Uid") == 1000);  // the real uid, the first of four
  CHECK(kvm::status_number(status, "TracerPid") == 650);
  CHECK(kvm::status_number(status, "Tgid") == 612);
  CHECK(kvm::status_mask(status, "SigBlk") == 0u);
  CHECK(kvm::status_mask(status, "SigIgn") == 0x1000u);
  CHECK(kvm::status_mask(status, "CapEff") == 0x1ffffffffffu);
  CHECK_FALSE(kvm::status_value(status, "Gid"));                 // absent
  CHECK_FALSE(kvm::status_value(status, "Tracer"));              // a prefix of a key is not the key
  CHECK_FALSE(kvm::status_number(status, "Name"));               // not a number
  CHECK_FALSE(kvm::status_number("Uid:\n", "Uid"));              // empty
  CHECK(kvm::status_number("TracerPid:\t0", "TracerPid") == 0);  // no final newline
  CHECK(kvm::status_number("Uid:  7 7 7 7\n", "Uid") == 7);      // blanks, not tabs
  CHECK_FALSE(kvm::status_value("", "Uid"));
}

TEST_CASE("stat: the flags field after a comm with spaces and parentheses", "[proc_parse]") {
  CHECK(kvm::parse_stat_flags("612 (svedbg-vmm) S 1 612 612 0 -1 4194560 0 0 0 0\n") == 4194560u);
  CHECK(kvm::parse_stat_flags("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0\n") == 2129984u);
  CHECK((*kvm::parse_stat_flags("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0\n") & kvm::kPfKthread) != 0);
  CHECK(kvm::parse_stat_flags("615 (a) b) (c) S 1 612 612 0 -1 4210752 0\n") == 4210752u);
  CHECK((*kvm::parse_stat_flags("615 (kvm-nx-lpage-re) S 1 612 612 0 -1 4210752 0\n") & kvm::kPfUserWorker) != 0);
  CHECK_FALSE(kvm::parse_stat_flags("612 svedbg-vmm S 1 612 612 0 -1 4194560\n"));  // no ')'
  CHECK_FALSE(kvm::parse_stat_flags("612 (x) S 1 612\n"));                          // cut short
  CHECK_FALSE(kvm::parse_stat_flags("612 (x) S 1 612 612 0 -1 flags 0\n"));
}

TEST_CASE("cmdline, one-line files, numeric directory entries", "[proc_parse]") {
  using namespace std::string_literals;
  using Args = std::vector<std::string>;
  CHECK(kvm::parse_cmdline("qemu-system-aarch64\0-smp\0"
                           "4\0"s) == Args{"qemu-system-aarch64", "-smp", "4"});
  CHECK(kvm::parse_cmdline("a\0\0b"s) == Args{"a", "", "b"});  // an empty argument; no final NUL
  CHECK(kvm::parse_cmdline("").empty());
  CHECK(kvm::strip_line_end("CPU 0/KVM\n") == "CPU 0/KVM");
  CHECK(kvm::strip_line_end("613\r\n") == "613");
  CHECK(kvm::strip_line_end("x") == "x");
  CHECK(kvm::parse_decimal<int>("42") == 42);
  CHECK_FALSE(kvm::parse_decimal<int>("42 "));
  CHECK_FALSE(kvm::parse_decimal<int>("0x2a"));
  CHECK_FALSE(kvm::parse_decimal<unsigned>("-1"));
  CHECK_FALSE(kvm::parse_decimal<int>(""));
  CHECK(kvm::decimal_names<int>({"self", "10", "2", "thread-self", "1"}) == std::vector<int>{1, 2, 10});
}
