#include "gdbstub/requests.hpp"

#include <cerrno>
#include <cstddef>
#include <limits>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "gdbstub/hex.hpp"

namespace svedbg::gdbstub {

namespace {

// Everything a field parser needs to name the packet in its error.
struct Packet {
  std::string_view name;     // "m", "qXfer", "vCont", ...
  std::string_view payload;  // the whole payload, for Unknown and messages
};

Error malformed(const Packet& pkt, std::string_view why) {
  // G/M/X payloads can be 0x20000 bytes long: quote only their start.
  constexpr std::size_t kQuote = 48;
  const std::string_view shown = pkt.payload.substr(0, kQuote);
  return make_error(EINVAL, "malformed '{}' packet \"{}{}\": {}", pkt.name, shown,
                    pkt.payload.size() > kQuote ? "..." : "", why);
}

// Split at the first `sep`; nullopt if there is none.
std::optional<std::pair<std::string_view, std::string_view>> split_once(std::string_view text, char sep) {
  const auto at = text.find(sep);
  if (at == std::string_view::npos) return std::nullopt;
  return std::pair{text.substr(0, at), text.substr(at + 1)};
}

Result<std::uint64_t> hex_field(const Packet& pkt, std::string_view text, std::string_view what) {
  if (auto v = parse_hex_u64(text)) return *v;
  return malformed(pkt, fmt::format("{} \"{}\" is not a hex number", what, text.substr(0, 20)));
}

Result<unsigned> regnum_field(const Packet& pkt, std::string_view text) {
  auto v = hex_field(pkt, text, "register number");
  if (!v) return v.error();
  if (*v > std::numeric_limits<unsigned>::max()) return malformed(pkt, "register number too large");
  return static_cast<unsigned>(*v);
}

Result<std::uint8_t> signal_field(const Packet& pkt, std::string_view text) {
  // The manual sends signals as two hex digits; accept one as well.
  if (text.size() > 2) return malformed(pkt, fmt::format("signal \"{}\" is not one byte", text));
  auto v = hex_field(pkt, text, "signal");
  if (!v) return v.error();
  return static_cast<std::uint8_t>(*v);
}

Result<Bytes> hex_data_field(const Packet& pkt, std::string_view text) {
  auto data = from_hex(text);
  if (!data) return malformed(pkt, data.error().message);
  return std::move(data).value();
}

// [addr, addr + len) must not wrap around the 64-bit address space.
Status check_range(const Packet& pkt, std::uint64_t addr, std::uint64_t len) {
  if (len != 0 && addr + (len - 1) < addr) {
    return malformed(pkt, "address range wraps around the address space");
  }
  return {};
}

Result<ThreadSel> thread_field(const Packet& pkt, std::string_view text) {
  if (auto sel = parse_thread_sel(text)) return *sel;
  return malformed(pkt, fmt::format("bad thread-id \"{}\"", text.substr(0, 40)));
}

template <typename T>
Result<Request> no_arguments(const Packet& pkt, std::string_view args) {
  if (!args.empty()) return malformed(pkt, "unexpected arguments");
  return Request{T{}};
}

// --- single-letter packets (GDB manual, Remote Protocol > Packets) ---------

Result<Request> parse_G(const Packet& pkt, std::string_view args) {
  if (args.empty()) return malformed(pkt, "no register data");
  auto data = hex_data_field(pkt, args);
  if (!data) return data.error();
  return Request{req::WriteAllRegisters{std::move(data).value()}};
}

Result<Request> parse_p(const Packet& pkt, std::string_view args) {
  auto reg = regnum_field(pkt, args);
  if (!reg) return reg.error();
  return Request{req::ReadRegister{*reg}};
}

Result<Request> parse_P(const Packet& pkt, std::string_view args) {
  const auto parts = split_once(args, '=');
  if (!parts) return malformed(pkt, "expected n=value");
  auto reg = regnum_field(pkt, parts->first);
  if (!reg) return reg.error();
  if (parts->second.empty()) return malformed(pkt, "no register data");
  auto data = hex_data_field(pkt, parts->second);
  if (!data) return data.error();
  return Request{req::WriteRegister{*reg, std::move(data).value()}};
}

struct AddrLen {
  std::uint64_t addr;
  std::uint64_t len;
};

Result<AddrLen> addr_len_field(const Packet& pkt, std::string_view text) {
  const auto parts = split_once(text, ',');
  if (!parts) return malformed(pkt, "expected addr,length");
  auto addr = hex_field(pkt, parts->first, "address");
  if (!addr) return addr.error();
  auto len = hex_field(pkt, parts->second, "length");
  if (!len) return len.error();
  if (auto st = check_range(pkt, *addr, *len); !st) return st.error();
  return AddrLen{*addr, *len};
}

Result<Request> parse_m(const Packet& pkt, std::string_view args) {
  auto range = addr_len_field(pkt, args);
  if (!range) return range.error();
  return Request{req::ReadMemory{range->addr, range->len}};
}

// x addr,length: the binary form of m (Packets, 'x'; lldb-gdb-remote.txt,
// 'x'). Same arguments and limits as m; the reply form is the session's.
Result<Request> parse_x(const Packet& pkt, std::string_view args) {
  auto range = addr_len_field(pkt, args);
  if (!range) return range.error();
  return Request{req::ReadMemoryBinary{range->addr, range->len}};
}

// Z/z type,addr,kind[;cond...] (Packets, 'Z0'..'Z4'). Conditions and
// commands (target-side evaluation) are not offered in qSupported, so gdb
// never sends them; if one comes anyway it is malformed here.
Result<Request> parse_breakpoint(const Packet& pkt, std::string_view args, bool insert) {
  const auto first = split_once(args, ',');
  if (!first) return malformed(pkt, "expected type,addr,kind");
  const auto second = split_once(first->second, ',');
  if (!second) return malformed(pkt, "expected type,addr,kind");
  auto type = hex_field(pkt, first->first, "type");
  if (!type) return type.error();
  if (*type > 4) return malformed(pkt, "type must be 0..4");
  auto addr = hex_field(pkt, second->first, "address");
  if (!addr) return addr.error();
  auto kind = hex_field(pkt, second->second, "kind");
  if (!kind) return kind.error();
  return Request{req::Breakpoint{insert, static_cast<unsigned>(*type), *addr, *kind}};
}
Result<Request> parse_Z(const Packet& pkt, std::string_view args) { return parse_breakpoint(pkt, args, true); }
Result<Request> parse_z(const Packet& pkt, std::string_view args) { return parse_breakpoint(pkt, args, false); }

// M addr,length:XX... (hex) and X addr,length:binary. The address part has
// no ':', so the first ':' ends it even when the binary data contains ':'.
// gdb probes X support with an empty "X<addr>,0:" (Packets, 'X'), so a zero
// length with no data is valid for both.
Result<Request> parse_write_memory(const Packet& pkt, std::string_view args, bool binary) {
  const auto parts = split_once(args, ':');
  if (!parts) return malformed(pkt, "expected addr,length:data");
  auto range = addr_len_field(pkt, parts->first);
  if (!range) return range.error();
  Bytes data;
  if (binary) {
    const auto raw = std::as_bytes(std::span<const char>(parts->second.data(), parts->second.size()));
    data.assign(raw.begin(), raw.end());
  } else {
    auto decoded = hex_data_field(pkt, parts->second);
    if (!decoded) return decoded.error();
    data = std::move(decoded).value();
  }
  if (data.size() != range->len) {
    return malformed(pkt, fmt::format("length {:#x} but {:#x} bytes of data", range->len, data.size()));
  }
  return Request{req::WriteMemory{range->addr, std::move(data)}};
}

Result<Request> parse_M(const Packet& pkt, std::string_view args) { return parse_write_memory(pkt, args, false); }

Result<Request> parse_X(const Packet& pkt, std::string_view args) { return parse_write_memory(pkt, args, true); }

Result<Request> parse_H(const Packet& pkt, std::string_view args) {
  if (args.empty()) return malformed(pkt, "missing operation");
  const char op = args.front();
  if (op != 'g' && op != 'c') return malformed(pkt, fmt::format("unknown operation '{}'", op));
  auto sel = thread_field(pkt, args.substr(1));
  if (!sel) return sel.error();
  return Request{req::SetThread{op, *sel}};
}

Result<Request> parse_T(const Packet& pkt, std::string_view args) {
  auto sel = thread_field(pkt, args);
  if (!sel) return sel.error();
  return Request{req::ThreadAlive{*sel}};
}

// c [addr] / s [addr]
template <typename T>
Result<Request> parse_resume(const Packet& pkt, std::string_view args) {
  T r;
  if (!args.empty()) {
    auto addr = hex_field(pkt, args, "address");
    if (!addr) return addr.error();
    r.addr = *addr;
  }
  return Request{std::move(r)};
}

// C sig[;addr] / S sig[;addr]
template <typename T>
Result<Request> parse_resume_signal(const Packet& pkt, std::string_view args) {
  T r;
  std::string_view sig = args;
  if (const auto parts = split_once(args, ';')) {
    sig = parts->first;
    auto addr = hex_field(pkt, parts->second, "address");
    if (!addr) return addr.error();
    r.addr = *addr;
  }
  auto signal = signal_field(pkt, sig);
  if (!signal) return signal.error();
  r.signal = *signal;
  return Request{std::move(r)};
}

Result<Request> parse_D(const Packet& pkt, std::string_view args) {
  if (args.empty()) return Request{req::Detach{}};
  if (args.front() != ';') return malformed(pkt, "expected D or D;pid");
  auto pid = hex_field(pkt, args.substr(1), "pid");
  if (!pid) return pid.error();
  return Request{req::Detach{}};
}

// --- named packets (General Query Packets, vCont) --------------------------

Result<Request> parse_qSupported(const Packet& pkt, std::string_view args) {
  req::QSupported r;
  if (args.empty()) return Request{std::move(r)};
  if (args.front() != ':') return malformed(pkt, "expected qSupported:feature;...");
  std::string_view rest = args.substr(1);
  while (!rest.empty()) {
    const auto end = rest.find(';');
    const std::string_view feature = rest.substr(0, end);
    if (!feature.empty()) r.features.emplace_back(feature);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return Request{std::move(r)};
}

// qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH. Other operations (write) are not
// ours: Unknown. The annex is everything up to the last ':'.
Result<Request> parse_qXfer(const Packet& pkt, std::string_view args) {
  if (args.empty() || args.front() != ':') return malformed(pkt, "expected qXfer:object:...");
  const auto object = split_once(args.substr(1), ':');
  if (!object) return malformed(pkt, "expected qXfer:object:operation:...");
  if (object->first.empty()) return malformed(pkt, "empty object name");
  const auto op = split_once(object->second, ':');
  const std::string_view op_name = op ? op->first : object->second;
  if (op_name != "read") return Request{req::Unknown{std::string(pkt.payload)}};
  if (!op) return malformed(pkt, "expected read:annex:offset,length");
  const auto colon = op->second.rfind(':');
  if (colon == std::string_view::npos) return malformed(pkt, "expected annex:offset,length");
  const auto parts = split_once(op->second.substr(colon + 1), ',');
  if (!parts) return malformed(pkt, "expected offset,length");
  auto offset = hex_field(pkt, parts->first, "offset");
  if (!offset) return offset.error();
  auto length = hex_field(pkt, parts->second, "length");
  if (!length) return length.error();
  return Request{req::XferRead{std::string(object->first), std::string(op->second.substr(0, colon)), *offset, *length}};
}

Result<Request> parse_qAttached(const Packet& pkt, std::string_view args) {
  if (args.empty()) return Request{req::Attached{}};
  if (args.front() != ':') return malformed(pkt, "expected qAttached or qAttached:pid");
  auto pid = hex_field(pkt, args.substr(1), "pid");
  if (!pid) return pid.error();
  return Request{req::Attached{}};
}

Result<Request> parse_qThreadExtraInfo(const Packet& pkt, std::string_view args) {
  if (args.empty() || args.front() != ',') return malformed(pkt, "expected qThreadExtraInfo,thread-id");
  auto sel = thread_field(pkt, args.substr(1));
  if (!sel) return sel.error();
  return Request{req::ThreadExtraInfo{*sel}};
}

// lldb's qThreadStopInfo has no separator: the thread id follows the name.
Result<Request> parse_qThreadStopInfo(const Packet& pkt, std::string_view args) {
  auto sel = thread_field(pkt, args);
  if (!sel) return sel.error();
  if (sel->kind != ThreadSel::Kind::Id) return malformed(pkt, "expected a thread id");
  return Request{req::ThreadStopInfo{*sel}};
}

Result<Request> parse_qRcmd(const Packet& pkt, std::string_view args) {
  // gdb sends "qRcmd," for a bare `monitor`: an empty command is valid.
  if (args.empty() || args.front() != ',') return malformed(pkt, "expected qRcmd,hex-command");
  auto text = from_hex_text(args.substr(1));
  if (!text) return malformed(pkt, text.error().message);
  return Request{req::Monitor{std::move(text).value()}};
}

Result<req::VContAction> vcont_action(const Packet& pkt, std::string_view text) {
  req::VContAction action;
  std::string_view head = text;
  if (const auto parts = split_once(text, ':')) {
    head = parts->first;
    auto sel = thread_field(pkt, parts->second);
    if (!sel) return sel.error();
    action.thread = *sel;
  }
  if (head.empty()) return malformed(pkt, "empty action");
  action.op = head.front();
  const std::string_view rest = head.substr(1);
  switch (action.op) {
    case 'c':
    case 's':
    case 't':
      if (!rest.empty()) return malformed(pkt, fmt::format("action '{}' takes no argument", action.op));
      break;
    case 'C':
    case 'S': {
      auto signal = signal_field(pkt, rest);
      if (!signal) return signal.error();
      action.signal = *signal;
      break;
    }
    case 'r': return malformed(pkt, "range stepping ('r') is not supported");
    default: return malformed(pkt, fmt::format("unknown action '{}'", action.op));
  }
  return action;
}

// vCont;action[:thread-id][;action[:thread-id]]... (Packets, 'vCont').
Result<Request> parse_vCont(const Packet& pkt, std::string_view args) {
  if (args.empty() || args.front() != ';') return malformed(pkt, "expected vCont;action...");
  req::VCont r;
  std::string_view rest = args.substr(1);
  while (true) {
    const auto end = rest.find(';');
    auto action = vcont_action(pkt, rest.substr(0, end));
    if (!action) return action.error();
    r.actions.push_back(std::move(action).value());
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return Request{std::move(r)};
}

// vAttach;pid and vKill;pid (Packets, 'vAttach', 'vKill'): pid in hex.
template <typename T>
Result<Request> parse_pid_packet(const Packet& pkt, std::string_view args) {
  if (args.empty() || args.front() != ';') return malformed(pkt, "expected ;pid");
  auto pid = hex_field(pkt, args.substr(1), "pid");
  if (!pid) return pid.error();
  if (*pid == 0 || *pid > 0x7fffffff) return malformed(pkt, "pid out of range");
  return Request{T{static_cast<long>(*pid)}};
}

Result<Request> parse_vRun(const Packet& pkt, std::string_view) {
  return Request{req::RunProcess{std::string(pkt.payload)}};
}

// QNonStop:1 enters non-stop mode, QNonStop:0 leaves it (Packets, 'QNonStop').
Result<Request> parse_QNonStop(const Packet& pkt, std::string_view args) {
  if (args == ":1") return Request{req::NonStop{true}};
  if (args == ":0") return Request{req::NonStop{false}};
  return malformed(pkt, "expected QNonStop:0 or QNonStop:1");
}

using FieldParser = Result<Request> (*)(const Packet&, std::string_view args);

struct Entry {
  std::string_view name;
  FieldParser parse;
};

// Packets named by their first character. Letters not listed (A, R,
// b, i, ...) are Unknown.
constexpr Entry kLetterPackets[] = {
    {"?", no_arguments<req::HaltReason>},
    {"g", no_arguments<req::ReadAllRegisters>},
    {"G", parse_G},
    {"p", parse_p},
    {"P", parse_P},
    {"m", parse_m},
    {"M", parse_M},
    {"X", parse_X},
    {"x", parse_x},
    {"H", parse_H},
    {"T", parse_T},
    {"c", parse_resume<req::Continue>},
    {"C", parse_resume_signal<req::Continue>},
    {"s", parse_resume<req::Step>},
    {"S", parse_resume_signal<req::Step>},
    {"D", parse_D},
    {"k", no_arguments<req::Kill>},
    {"Z", parse_Z},
    {"z", parse_z},
    {"!", no_arguments<req::ExtendedMode>},
};

// q/Q/v packets, keyed by their full name: the text up to the first ':',
// ';' or ',' (General Query Packets: "the name ... is terminated by a ':',
// ',' or ';'"). Matching whole names rather than prefixes makes the order
// irrelevant and keeps "qC" from swallowing "qCRC:...", "qSupported" from
// matching "qSupportedFoo", and "vCont?" apart from "vCont;...".
constexpr Entry kNamedPackets[] = {
    {"qSupported", parse_qSupported},
    {"QStartNoAckMode", no_arguments<req::StartNoAckMode>},
    {"qXfer", parse_qXfer},
    {"qfThreadInfo", no_arguments<req::ThreadInfoFirst>},
    {"qsThreadInfo", no_arguments<req::ThreadInfoNext>},
    {"qC", no_arguments<req::CurrentThread>},
    {"qAttached", parse_qAttached},
    {"qThreadExtraInfo", parse_qThreadExtraInfo},
    {"qRcmd", parse_qRcmd},
    {"vCont?", no_arguments<req::VContQuery>},
    {"vCont", parse_vCont},
    {"vAttach", parse_pid_packet<req::AttachProcess>},
    {"vKill", parse_pid_packet<req::KillProcess>},
    {"vRun", parse_vRun},
    {"QNonStop", parse_QNonStop},
    {"vStopped", no_arguments<req::StopAck>},
    {"vCtrlC", no_arguments<req::CtrlC>},
};

// Packets whose arguments follow the name without a separator.
constexpr Entry kPrefixPackets[] = {
    {"qThreadStopInfo", parse_qThreadStopInfo},
};

// Plain thread-id: "-1", "0" or positive hex.
std::optional<ThreadSel> plain_thread_sel(std::string_view text) {
  if (text == "-1") return ThreadSel{ThreadSel::Kind::All, 0};
  const auto id = parse_hex_u64(text);
  if (!id) return std::nullopt;
  if (*id == 0) return ThreadSel{ThreadSel::Kind::Any, 0};
  return ThreadSel{ThreadSel::Kind::Id, *id};
}

}  // namespace

std::optional<ThreadSel> parse_thread_sel(std::string_view text) {
  if (text.empty() || text.front() != 'p') return plain_thread_sel(text);
  // Multiprocess form (Packets, "thread-id syntax"): p<pid>[.<tid>], pid
  // may be -1; a missing tid means all threads of the process.
  const auto dot = text.find('.');
  const std::string_view pid = text.substr(1, dot == std::string_view::npos ? text.npos : dot - 1);
  if (!plain_thread_sel(pid)) return std::nullopt;
  if (dot == std::string_view::npos) return ThreadSel{ThreadSel::Kind::All, 0};
  return plain_thread_sel(text.substr(dot + 1));
}

Result<Request> parse_request(std::string_view payload) {
  if (payload.empty()) return Request{req::Unknown{}};
  const char first = payload.front();
  if (first == 'q' || first == 'Q' || first == 'v') {
    const auto end = payload.find_first_of(":;,");
    const std::string_view name = payload.substr(0, end);
    const std::string_view args = end == std::string_view::npos ? std::string_view{} : payload.substr(end);
    for (const Entry& e : kNamedPackets) {
      if (e.name == name) return e.parse(Packet{e.name, payload}, args);
    }
    for (const Entry& e : kPrefixPackets) {
      if (payload.starts_with(e.name)) return e.parse(Packet{e.name, payload}, payload.substr(e.name.size()));
    }
    return Request{req::Unknown{std::string(payload)}};
  }
  for (const Entry& e : kLetterPackets) {
    if (e.name.front() == first) return e.parse(Packet{e.name, payload}, payload.substr(1));
  }
  return Request{req::Unknown{std::string(payload)}};
}

}  // namespace svedbg::gdbstub
