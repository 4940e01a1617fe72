// /proc text parsers for attaching to a VMM (see proc_parse.hpp).
#include "kvm/proc_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace svedbg::kvm {

namespace {

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// A C-style unsigned literal: 0x.. hex or decimal.
std::optional<std::uint64_t> parse_u64(std::string_view s, int base = 0) {
  if (base == 0) {
    base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      s.remove_prefix(2);
      base = 16;
    }
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

FdLink parse_fd_link(std::string_view target) {
  if (target == "anon_inode:kvm-vm") return FdLink{FdKind::Vm, 0};
  constexpr std::string_view vcpu = "anon_inode:kvm-vcpu:";
  if (target.substr(0, vcpu.size()) == vcpu) {
    auto id = parse_u64(target.substr(vcpu.size()), 10);
    if (id && *id <= 0xffffffffu) return FdLink{FdKind::Vcpu, static_cast<unsigned>(*id)};
  }
  return FdLink{};
}

Result<SyscallState> parse_syscall(std::string_view text) {
  auto f = split_ws(text);
  SyscallState s;
  if (f.size() == 1 && f[0] == "running") return s;
  auto bad = [&] { return make_error(EINVAL, "unexpected /proc syscall text '{}'", text); };
  if (f.size() == 3 && f[0] == "-1") {
    auto sp = parse_u64(f[1]), pc = parse_u64(f[2]);
    if (!sp || !pc) return bad();
    s.kind = SyscallState::Kind::NotInSyscall;
    s.sp = *sp;
    s.pc = *pc;
    return s;
  }
  if (f.size() != 9) return bad();
  auto nr = parse_u64(f[0], 10);
  if (!nr) return bad();
  s.kind = SyscallState::Kind::InSyscall;
  s.nr = static_cast<long>(*nr);
  for (unsigned i = 0; i < 6; ++i) {
    auto a = parse_u64(f[1 + i]);
    if (!a) return bad();
    s.args[i] = *a;
  }
  auto sp = parse_u64(f[7]), pc = parse_u64(f[8]);
  if (!sp || !pc) return bad();
  s.sp = *sp;
  s.pc = *pc;
  return s;
}

std::vector<MapEntry> parse_maps(std::string_view text) {
  std::vector<MapEntry> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // start-end perms offset dev inode [path...]; the path may hold spaces.
    auto f = split_ws(line);
    if (f.size() < 5) continue;
    auto dash = f[0].find('-');
    if (dash == std::string_view::npos || f[1].size() != 4) continue;
    auto start = parse_u64(f[0].substr(0, dash), 16), end = parse_u64(f[0].substr(dash + 1), 16);
    auto off = parse_u64(f[2], 16);
    if (!start || !end || !off || *end < *start) continue;
    MapEntry e;
    e.start = *start;
    e.end = *end;
    e.read = f[1][0] == 'r';
    e.write = f[1][1] == 'w';
    e.exec = f[1][2] == 'x';
    e.shared = f[1][3] == 's';
    e.offset = *off;
    if (f.size() >= 6) {
      // From the path field to the end of the line, as written.
      std::size_t at = static_cast<std::size_t>(f[5].data() - line.data());
      e.path = std::string(line.substr(at));
      while (!e.path.empty() && (e.path.back() == ' ' || e.path.back() == '\r')) e.path.pop_back();
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<RamRange> guest_ram_from_maps(const std::vector<MapEntry>& maps) {
  std::vector<RamRange> out;
  constexpr std::string_view prefix = "/memfd:";
  for (const auto& m : maps) {
    std::string_view p = m.path;
    if (p.substr(0, prefix.size()) != prefix) continue;
    p.remove_prefix(prefix.size());
    if (p.substr(0, kGuestRamMemfdName.size()) != kGuestRamMemfdName) continue;
    p.remove_prefix(kGuestRamMemfdName.size());
    auto sp = p.find(' ');  // " (deleted)"
    auto gpa = parse_u64(p.substr(0, sp));
    if (!gpa || !m.read || m.end == m.start) continue;
    out.push_back(RamRange{*gpa + m.offset, m.start, m.end - m.start});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.gpa < b.gpa; });
  return out;
}

Result<RamRange> parse_mem_spec(std::string_view spec) {
  auto bad = [&](const char* why) {
    return make_error(
        EINVAL, "--mem '{}': {} (expected GPA:SIZE, GPA:SIZE@HVA or GPA:HVA:SIZE, e.g. 0x40000000:64M@0xffff80000000)",
        spec, why);
  };
  auto parse_size = [](std::string_view text) -> std::optional<std::uint64_t> {
    std::uint64_t mult = 1;
    if (!text.empty()) {
      switch (text.back()) {
        case 'K':
        case 'k': mult = 1ULL << 10; break;
        case 'M':
        case 'm': mult = 1ULL << 20; break;
        case 'G':
        case 'g': mult = 1ULL << 30; break;
        default: break;
      }
      if (mult != 1) text.remove_suffix(1);
    }
    auto n = parse_u64(text);
    if (!n || *n == 0 || *n > ~0ULL / mult) return std::nullopt;
    return *n * mult;
  };
  const auto c1 = spec.find(':');
  if (c1 == std::string_view::npos) return bad("no SIZE");
  auto gpa = parse_u64(spec.substr(0, c1));
  if (!gpa) return bad("bad GPA");
  std::string_view rest = spec.substr(c1 + 1);
  std::optional<std::uint64_t> hva = 0, size;
  if (const auto c2 = rest.find(':'); c2 != std::string_view::npos) {  // GPA:HVA:SIZE
    if (rest.find(':', c2 + 1) != std::string_view::npos || rest.find('@') != std::string_view::npos)
      return bad("too many fields");
    hva = parse_u64(rest.substr(0, c2));
    size = parse_size(rest.substr(c2 + 1));
    if (hva && *hva == 0) return bad("HVA 0");
  } else if (const auto at = rest.find('@'); at != std::string_view::npos) {  // GPA:SIZE@HVA
    size = parse_size(rest.substr(0, at));
    hva = parse_u64(rest.substr(at + 1));
    if (hva && *hva == 0) return bad("HVA 0");
  } else {  // GPA:SIZE, HVA from the VMM's mappings
    size = parse_size(rest);
  }
  if (!hva) return bad("bad HVA");
  if (!size) return bad("bad SIZE");
  if (*gpa + *size < *gpa || *hva + *size < *hva) return bad("range wraps around");
  return RamRange{*gpa, *hva, *size};
}

Result<RamRange> resolve_guest_ram(const RamRange& spec, const std::vector<MapEntry>& maps) {
  const std::string what = fmt::format("guest RAM {:#x}+{:#x}", spec.gpa, spec.size);
  if (spec.hva != 0) {
    // Given: it must lie in readable, writable mappings without a gap.
    std::uint64_t at = spec.hva;
    const std::uint64_t end = spec.hva + spec.size;
    for (const auto& m : maps) {
      if (at >= end) break;
      if (m.end <= at || m.start > at) continue;
      if (!m.read || !m.write) break;
      at = m.end;
    }
    if (at < end)
      return make_error(EFAULT, "{} at VMM address {:#x}: {:#x} is not in a readable, writable mapping of the VMM",
                        what, spec.hva, at);
    return spec;
  }
  // Not given: the one readable, writable mapping of exactly that size
  // (QEMU's `-m` RAM is an anonymous mapping of the RAM size).
  std::vector<const MapEntry*> same;
  for (const auto& m : maps)
    if (m.read && m.write && m.end - m.start == spec.size) same.push_back(&m);
  if (same.size() == 1) return RamRange{spec.gpa, same[0]->start, spec.size};
  if (same.empty())
    return make_error(ENOENT,
                      "{}: the VMM has no readable, writable mapping of exactly {:#x} bytes; give its "
                      "address as --mem GPA:SIZE@HVA",
                      what, spec.size);
  std::string list;
  for (const auto* m : same) list += fmt::format(" {:#x}", m->start);
  return make_error(EEXIST, "{}: {} mappings of the VMM have that size (at{}); give the address as --mem GPA:SIZE@HVA",
                    what, same.size(), list);
}

std::string strip_line_end(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::vector<std::string> parse_cmdline(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto z = text.find('\0');
    out.emplace_back(text.substr(0, z));
    if (z == std::string_view::npos) break;
    text.remove_prefix(z + 1);
  }
  return out;
}

std::optional<std::string_view> status_value(std::string_view status, std::string_view key) {
  while (!status.empty()) {
    auto nl = status.find('\n');
    std::string_view line = status.substr(0, nl);
    status = nl == std::string_view::npos ? std::string_view{} : status.substr(nl + 1);
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    return line;
  }
  return std::nullopt;
}

std::optional<long> status_number(std::string_view status, std::string_view key) {
  auto value = status_value(status, key);
  if (!value) return std::nullopt;
  return parse_decimal<long>(value->substr(0, value->find_first_of(" \t")));
}

std::optional<std::uint64_t> status_mask(std::string_view status, std::string_view key) {
  auto value = status_value(status, key);
  if (!value) return std::nullopt;
  return parse_u64(value->substr(0, value->find_first_of(" \t")), 16);
}

std::optional<unsigned long> parse_stat_flags(std::string_view stat) {
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // state ppid pgrp session tty_nr tpgid flags
  for (int field = 0; field < 7; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto end = rest.find(' ');
    if (field == 6) return parse_decimal<unsigned long>(rest.substr(0, end));
    if (end == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

std::optional<std::size_t> find_svc(std::span<const std::byte> code) {
  static constexpr std::byte kSvc0[4] = {std::byte{0x01}, std::byte{0x00}, std::byte{0x00}, std::byte{0xd4}};
  for (std::size_t i = 0; i + 4 <= code.size(); i += 4)
    if (std::memcmp(code.data() + i, kSvc0, 4) == 0) return i;
  return std::nullopt;
}

}  // namespace svedbg::kvm
