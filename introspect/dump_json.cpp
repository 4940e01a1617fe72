#include "introspect/dump_json.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/json.hpp"
#include "introspect/guest_memory.hpp"

namespace svedbg::introspect {
namespace {

std::string hex_bytes(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    out.push_back(kDigits[v >> 4]);
    out.push_back(kDigits[v & 0xf]);
  }
  return out;
}

std::string hex_u64(std::uint64_t v) { return fmt::format("\"{:#x}\"", v); }

class Writer {
 public:
  explicit Writer(std::FILE* out) : out_(out) {}
  void put(std::string_view s) {
    if (ok_ && std::fwrite(s.data(), 1, s.size(), out_) != s.size()) {
      ok_ = false;
      errno_ = errno;
    }
  }
  Status status() const {
    if (ok_) return {};
    return make_error(EIO, "writing the JSON dump failed: {}", std::strerror(errno_));
  }

 private:
  std::FILE* out_;
  bool ok_ = true;
  int errno_ = 0;
};

std::string hex_list(const auto& regs, std::size_t n) {
  std::string s = "[";
  bool first = true;
  for (const auto& r : regs) {
    s += first ? "\"" : ", \"";
    s += hex_bytes(std::span<const std::byte>(r.data(), n));
    s += '"';
    first = false;
  }
  return s + "]";
}

std::string vcpu_json(const VcpuSnapshot& v) {
  std::string s = fmt::format("    {{\n      \"index\": {},\n      \"sve\": {},\n      \"vls\": [", v.vmm_index,
                              v.sve ? "true" : "false");
  bool first = true;
  for (unsigned vq : v.vls.list()) {
    s += fmt::format("{}{}", first ? "" : ", ", vq * 128);
    first = false;
  }
  s += fmt::format("],\n      \"max_vl\": {},\n      \"effective_vl\": {},\n      \"core\": {{", v.max_vq * 128,
                   v.effective_vq * 128);
  for (unsigned n = 0; n < 31; ++n) s += fmt::format("{}\"x{}\": {}", n ? ", " : "", n, hex_u64(v.x[n]));
  s += fmt::format(", \"sp\": {}, \"pc\": {}, \"pstate\": {}}},\n", hex_u64(v.sp), hex_u64(v.pc), hex_u64(v.pstate));
  s += fmt::format("      \"fpsr\": {},\n      \"fpcr\": {},\n      \"sysregs\": {{", hex_u64(v.fpsr), hex_u64(v.fpcr));
  first = true;
  for (const auto& r : v.sysregs) {
    s += fmt::format("{}{}: {}", first ? "" : ", ", json_quote(r.name), hex_u64(r.value));
    first = false;
  }
  s += "}";
  if (!v.sysreg_errors.empty()) {
    s += ",\n      \"sysreg_errors\": {";
    first = true;
    for (const auto& e : v.sysreg_errors) {
      s += fmt::format("{}{}: {}", first ? "" : ", ", json_quote(e.name), json_quote(e.message));
      first = false;
    }
    s += "}";
  }
  if (v.sve) {
    s += ",\n      \"z\": " + hex_list(v.z, v.z_bytes());
    s += ",\n      \"p\": " + hex_list(v.p, v.p_bytes());
    s += ",\n      \"ffr\": \"" + hex_bytes(std::span(v.ffr).first(v.p_bytes())) + "\"";
  } else {
    s += ",\n      \"v\": " + hex_list(v.z, 16);
  }
  return s + "\n    }";
}

}  // namespace

Status write_json_dump(std::FILE* out, const DumpSource& source, const std::vector<VcpuSnapshot>& vcpus,
                       kvm::Backend* memory) {
  Writer w(out);
  w.put(fmt::format("{{\n  \"svedbg_dump\": {},\n  \"source\": {{\"kind\": {}, \"detail\": {}}},\n  \"vcpus\": [\n",
                    kJsonDumpVersion, json_quote(source.kind), json_quote(source.detail)));
  for (std::size_t i = 0; i < vcpus.size(); ++i) {
    w.put(vcpu_json(vcpus[i]));
    w.put(i + 1 < vcpus.size() ? ",\n" : "\n");
  }
  w.put("  ]");
  if (memory) {
    w.put(",\n  \"memory\": [");
    const auto map = memory->memory_map();
    for (std::size_t i = 0; i < map.size(); ++i) {
      w.put(fmt::format("{}\n    {{\"gpa\": {}, \"size\": {}, \"data\": \"", i ? "," : "", hex_u64(map[i].gpa),
                        map[i].size));
      auto st = copy_guest_memory(*memory, map[i], [&](std::uint64_t, std::span<const std::byte> bytes) {
        w.put(hex_bytes(bytes));
        return w.status();
      });
      if (!st) return st;
      w.put("\"}");
    }
    w.put(map.empty() ? "]" : "\n  ]");
  }
  w.put("\n}\n");
  if (auto st = w.status(); !st) return st;
  if (std::fflush(out) != 0 || std::ferror(out))
    return make_error(EIO, "writing the JSON dump failed: {}", std::strerror(errno));
  return {};
}

}  // namespace svedbg::introspect
