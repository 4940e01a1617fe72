// GuestTarget's `monitor` commands, as data in one registry
// (common/monitor.hpp) with the backend's, and the reports they print.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "introspect/dump_json.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/page_walk.hpp"
#include "common/le_bytes.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

void GuestTarget::add_monitor_commands() {
  const auto no_args = [](std::string_view usage, auto report) {
    return [usage, report](std::string_view args) -> Result<std::string> {
      if (!args.empty()) return make_error(EINVAL, "usage: monitor {}", usage);
      return report();
    };
  };
  monitor_.add(
      {"help", "", "this text", false, no_args("help", [this] { return Result<std::string>(monitor_.help()); })});
  monitor_.add({"vls", "", "each vCPU's enabled vector lengths and effective VL", false,
                no_args("vls", [this] { return Result<std::string>(vls_report()); })});
  monitor_.add({"stats", "", "backend register reads in this stop (each register at most once)", false,
                no_args("stats", [this] { return Result<std::string>(stats_report()); })});
  monitor_.add({"dump json", "", "every vCPU's state as `svedbg dump --format json` writes it", false,
                no_args("dump json", [this] { return dump_json_report(); })});
  monitor_.add({"phys", "on|off", "memory addresses are guest-physical / virtual (default); without on|off: which",
                false, [this](std::string_view args) -> Result<std::string> {
                  if (args.empty()) return std::string(phys_mode_ ? "phys on\n" : "phys off\n");
                  if (args != "on" && args != "off") return make_error(EINVAL, "usage: monitor phys on|off");
                  phys_mode_ = args == "on";
                  return std::string(phys_mode_ ? "memory addresses are guest-physical\n"
                                                : "memory addresses are virtual (each vCPU's stage-1 translation)\n");
                }});
  monitor_.add({"translate", "ADDR", "the stage-1 walk of ADDR on the thread that last stopped", false,
                [this](std::string_view args) { return translate_report(args); }});
  step_irq_.add_monitor_commands(monitor_);
  backend_.add_monitor_commands(monitor_);
}

Result<std::string> GuestTarget::monitor(std::string_view command) {
  if (auto st = settle(); !st) return st.error();
  const auto words = split_words(command);
  if (words.empty()) return monitor_.help();
  const auto match = monitor_.find(command);
  if (!match) return make_error(EINVAL, "unknown monitor command '{}'; try 'monitor help'", command);
  const MonitorCommand& cmd = *match->command;
  // A command that may change guest state (e.g. ZCR_EL1 with sim set-vl)
  // is refused in read-only mode, and registers are read again after it.
  // One that only reports or tunes svedbg runs in read-only mode too and
  // keeps the stop's registers.
  if (options_.read_only && cmd.changes_guest)
    return make_error(EROFS, "'{}' not run: svedbg runs --read-only", fmt::join(words, " "));
  auto r = cmd.run(match->args);
  if (cmd.changes_guest) cache_.invalidate();
  return r;
}

Result<std::string> GuestTarget::dump_json_report() {
  // The live guest as `svedbg dump --format json` writes it (docs/
  // dumps.md), through gdb: the way to snapshot a VMM that links
  // libsvedbg. Registers only; no file is written on the daemon's side.
  auto snaps = take_snapshots(backend_);
  if (!snaps) return snaps.error();
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* mem = ::open_memstream(&buf, &len);
  if (!mem) return make_error(errno, "open_memstream: {}", std::strerror(errno));
  auto st = write_json_dump(mem, DumpSource{backend_.name(), "live, through gdb's monitor dump json"}, *snaps, nullptr);
  std::fclose(mem);
  std::string json(buf ? buf : "", len);
  std::free(buf);
  if (!st) return st.error();
  return json;
}

std::string GuestTarget::stats_report() {
  // KVM_GET_ONE_REG calls (or the backend's equivalent) in this stop: with
  // the per-stop cache each register costs at most one, however often gdb
  // asks (bench/ compares this against the registers requested).
  // Then the backend calls they took (one per get_regs batch) and the
  // time spent in them.
  const auto us = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
  return fmt::format(
      "register reads from the {} backend: {} in this stop ({} distinct registers cached), {} in all\n"
      "backend read calls in this stop: {} ({:.0f} us), {:.0f} us in all\n",
      backend_.name(), cache_.fetches_this_stop(), cache_.cached(), cache_.fetches(), cache_.backend_calls_this_stop(),
      us(cache_.backend_time_this_stop()), us(cache_.backend_time()));
}

Result<std::string> GuestTarget::translate_report(std::string_view arg) {
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  std::uint64_t va = 0;
  const bool hex = arg.rfind("0x", 0) == 0 || arg.rfind("0X", 0) == 0;
  const std::string_view digits = hex ? arg.substr(2) : arg;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), va, hex ? 16 : 10);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size())
    return make_error(EINVAL, "usage: monitor translate ADDR (decimal or 0x-hex), not '{}'", arg);
  const unsigned vcpu = static_cast<unsigned>(last_stop_.thread - 1);
  auto regs = translation_regs(vcpu);
  if (!regs) return regs.error();
  std::vector<WalkLevel> trace;
  auto t = translate(*regs, va, backend_phys_reader(backend_), &trace);
  std::string out = fmt::format("vCPU {}: ", backend_.vmm_index(vcpu));
  // The verdict first, on the vCPU's line, then the levels walked.
  if (!t) return out + t.error().message + "\n" + format_levels(trace);
  return out + format_walk(*t);
}

std::string GuestTarget::vls_report() {
  std::string out;
  if (sve_)
    out +=
        fmt::format("target description: SVE, VL {} bits (--tdesc-vl {})\n", desc_vq_ * 128, to_string(options_.tdesc));
  else
    out += "target description: FPSIMD (no vCPU has SVE)\n";
  if (!effective_refused_.empty()) out += "note: " + effective_refused_ + "\n";
  for (unsigned v = 0; v < vcpus_.size(); ++v) {
    const auto& st = vcpus_[v];
    const unsigned n = backend_.vmm_index(v);
    if (!st.sve) {
      out += fmt::format("vCPU {}: no SVE{}\n", n, st.probe_error.empty() ? "" : " (" + st.probe_error + ")");
      continue;
    }
    auto zcr = cache_.get(v, kvm::zcr_el1());
    if (!zcr) {
      out += fmt::format("vCPU {}: enabled VLs {}; max {} bits; effective VL unknown: {}\n", n, st.vls.to_string(),
                         st.vls.max() * 128, zcr.error().message);
      continue;
    }
    const std::uint64_t z = load_le<std::uint64_t>(**zcr, 0);
    out += fmt::format("vCPU {}: enabled VLs {}; max {} bits; effective VL {} bits (ZCR_EL1.LEN={})\n", n,
                       st.vls.to_string(), st.vls.max() * 128, kvm::effective_vq(st.vls, z) * 128, z & 0xf);
  }
  return out;
}

}  // namespace svedbg::introspect
