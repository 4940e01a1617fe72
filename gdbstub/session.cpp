#include "gdbstub/session.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "gdbstub/errors.hpp"
#include "gdbstub/hex.hpp"

namespace svedbg::gdbstub {
namespace {

// One dispatch table, indexed by the request's variant alternative: each
// entry calls the handler overload for that request type.
template <typename T>
Session::Reply call(Session& s, const Request& r) {
  return s.handle(std::get<T>(r));
}
template <std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  using Fn = Session::Reply (*)(Session&, const Request&);
  return std::array<Fn, sizeof...(I)>{&call<std::variant_alternative_t<I, Request>>...};
}
constexpr auto kHandlers = make_table(std::make_index_sequence<std::variant_size_v<Request>>{});

std::string hex_u64_le(std::span<const std::byte> bytes) { return to_hex(bytes); }

// PacketSize we advertise: the largest packet we accept (framing.hpp).
constexpr std::size_t kPacketSize = kMaxPacketSize;

}  // namespace

Session::Session(Target& target, SessionOptions options)
    : target_(target), options_(options), parser_(kMaxPacketSize) {}

std::string Session::feed(std::string_view bytes) {
  std::string out;
  for (auto& ev : parser_.feed(bytes)) backlog_.push_back(std::move(ev));
  // The budget is checked before each request is handled, so the output is
  // bounded before it is built.
  while (!closed_ && !backlog_.empty() && out.size() < kOutputBudget) {
    FrameEvent ev = std::move(backlog_.front());
    backlog_.pop_front();
    on_event(ev, out);
  }
  if (closed_) backlog_.clear();
  if ((running_ || non_stop_) && !closed_) out += poll_stop();
  return out;
}

void Session::on_event(FrameEvent& ev, std::string& out) {
  if (auto* p = std::get_if<PacketEvent>(&ev)) {
    if (!seen_packet_ && before_first_packet_) before_first_packet_();
    seen_packet_ = true;
    if (!no_ack_) out += '+';
    on_packet(p->payload, out);
  } else if (std::holds_alternative<NackEvent>(ev)) {
    // "Packet Acknowledgment": a '-' asks for retransmission of the last
    // packet. NAKs that follow it with nothing in between ask for the same
    // one, which this single retransmission answers.
    while (!backlog_.empty() && std::holds_alternative<NackEvent>(backlog_.front())) backlog_.pop_front();
    if (!no_ack_ && !last_packet_.empty()) out += last_packet_;
  } else if (std::holds_alternative<InterruptEvent>(ev)) {
    // 0x03 outside a packet: "Interrupts". Only meaningful while running;
    // the stop reply comes through poll_stop().
    if (running_) target_.interrupt();
    if (non_stop_) (void)interrupt_nonstop();  // as vCtrlC, without a reply
  } else if (auto* fe = std::get_if<FramingError>(&ev)) {
    if (fe->kind == FramingErrorKind::BadChecksum) {
      if (!no_ack_) out += '-';
    } else {
      // Overlong or undecodable run-length: the packet was received, its
      // content is unusable. Ack it and answer with an error so the
      // client's request/response pairing stays intact.
      if (!no_ack_) out += '+';
      send(error_reply(fe->kind == FramingErrorKind::Overlong ? ProtocolError::Overlong : ProtocolError::Malformed),
           out);
    }
  }
}

std::string Session::poll_stop() {
  if (non_stop_) return poll_stop_nonstop();
  if (!running_) return {};
  auto stop = target_.poll_stop();
  if (!stop) return {};
  running_ = false;
  g_thread_ = stop->thread;  // as gdbserver: the stopping thread becomes current
  std::string out;
  send(stop_reply(*stop), out);
  return out;
}

void Session::on_packet(std::string_view payload, std::string& out) {
  auto request = parse_request(payload);
  if (!request) {
    send(error_reply(request.error()), out);
    return;
  }
  if (running_ && !std::holds_alternative<req::Unknown>(*request)) {
    // All-stop: while the target runs, gdb only sends 0x03. Anything else is
    // refused without touching the target.
    send(error_reply(ProtocolError::NotStopped), out);
    return;
  }
  Reply reply = kHandlers[request->index()](*this, *request);
  for (const auto& packet : console_output_) send(packet, out);
  console_output_.clear();
  if (reply) send(*reply, out);
}

void Session::send(std::string_view payload, std::string& out) {
  if (no_ack_) {
    // Nothing is ever retransmitted without acks: skip keeping a copy.
    if (out.empty()) {
      out = encode_packet(payload, options_.run_length_replies);
    } else {
      out += encode_packet(payload, options_.run_length_replies);
    }
    return;
  }
  last_packet_ = encode_packet(payload, options_.run_length_replies);
  out += last_packet_;
}

std::string Session::stop_reply(const StopEvent& stop) {
  // "Stop Reply Packets": T AA n1:r1;n2:r2;... with `thread:` and expedited
  // registers (gdbserver sends x29, sp, pc and, for SVE, vg) so gdb needs no
  // extra round trip and learns the vector length at every stop.
  // The guest is gone: "X AA", no thread, no registers to expedite.
  if (stop.exited) return fmt::format("X{:02x}", static_cast<unsigned>(stop.signal));
  std::string s = fmt::format("T{:02x}thread:{:x};", static_cast<unsigned>(stop.signal), stop.thread);
  switch (stop.reason) {
    case StopReason::Signal: break;
    case StopReason::SwBreak:
      if (client_swbreak_) s += "swbreak:;";
      break;
    case StopReason::HwBreak:
      if (client_hwbreak_) s += "hwbreak:;";
      break;
    case StopReason::Watch: s += fmt::format("watch:{:x};", stop.watch_addr); break;
    case StopReason::ReadWatch: s += fmt::format("rwatch:{:x};", stop.watch_addr); break;
    case StopReason::AccessWatch: s += fmt::format("awatch:{:x};", stop.watch_addr); break;
  }
  for (unsigned regnum : target_.expedited_registers(stop.thread)) {
    auto value = target_.read_register(stop.thread, regnum);
    if (value) s += fmt::format("{:x}:{};", regnum, hex_u64_le(*value));
  }
  return s;
}

std::optional<ThreadId> Session::resolve(const ThreadSel& sel) const {
  auto threads = target_.threads();
  if (threads.empty()) return std::nullopt;
  switch (sel.kind) {
    case ThreadSel::Kind::Any:
    case ThreadSel::Kind::All: return threads.front();
    case ThreadSel::Kind::Id:
      if (target_.thread_alive(sel.id)) return sel.id;
      return std::nullopt;
  }
  return std::nullopt;
}

ThreadId Session::current_g() const {
  if (g_thread_ != 0 && target_.thread_alive(g_thread_)) return g_thread_;
  auto threads = target_.threads();
  return threads.empty() ? 1 : threads.front();
}

// ---- handlers -------------------------------------------------------------

Session::Reply Session::handle(const req::QSupported& r) {
  // "swbreak"/"hwbreak" stop reasons may only be sent to a client that
  // announced them (qSupported, "swbreak").
  for (const auto& f : r.features) {
    if (f == "swbreak+") client_swbreak_ = true;
    if (f == "hwbreak+") client_hwbreak_ = true;
    if (f == "binary-upload+") client_binary_upload_ = true;
    // gdb (every release since 7.x sends qRelocInsn+; 16+ error-message+)
    // takes "E.text" as an error and prints the text (remote.c,
    // packet_check_result); lldb 14 would not see it as an error.
    if (f == "qRelocInsn+" || f == "error-message+") client_text_errors_ = true;
  }
  target_.client_features(r.features);
  return fmt::format(
      "PacketSize={:x};qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+;vContSupported+;"
      "swbreak+;hwbreak+{}{}{}",
      kPacketSize, binary_upload_feature(), multi_ ? ";qXfer:osdata:read+" : "", target_.non_stop() ? ";QNonStop+" : "");
}

Session::Reply Session::handle(const req::StartNoAckMode&) {
  // The packet itself was acked in ack mode; gdb acks our "OK", then both
  // sides stop acking ("Packet Acknowledgment").
  no_ack_ = true;
  return std::string("OK");
}

Session::Reply Session::xfer_chunk(const std::string& document, std::uint64_t offset, std::uint64_t length) {
  // qXfer read replies: 'm' + data when more follows, 'l' + data at the end.
  // The data is binary and escaped by the encoder.
  if (offset > document.size()) return error_reply(ProtocolError::Malformed);
  const std::uint64_t cap = std::min<std::uint64_t>(length, kPacketSize / 2);
  const std::uint64_t n = std::min<std::uint64_t>(cap, document.size() - offset);
  const bool last = offset + n >= document.size();
  return std::string(last ? "l" : "m") + document.substr(offset, n);
}

Session::Reply Session::handle(const req::XferRead& r) {
  if (r.object == "features") {
    auto doc = target_.features_document(r.annex);
    if (!doc) return error_reply(doc.error());
    return xfer_chunk(*doc, r.offset, r.length);
  }
  if (r.object == "threads" && r.annex.empty()) return xfer_chunk(threads_xml(), r.offset, r.length);
  if (r.object == "osdata" && multi_) return osdata(r);
  return std::string{};  // an object we don't serve: empty = unsupported
}

std::string Session::threads_xml() {
  std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (ThreadId t : target_.threads()) {
    std::string info = target_.thread_extra_info(t);
    std::string escaped;
    for (char c : info) {
      switch (c) {
        case '<': escaped += "&lt;"; break;
        case '>': escaped += "&gt;"; break;
        case '&': escaped += "&amp;"; break;
        case '"': escaped += "&quot;"; break;
        default: escaped += c;
      }
    }
    const unsigned cpu = target_.thread_cpu(t);
    xml += fmt::format("  <thread id=\"{:x}\" core=\"{}\" name=\"vCPU {}\">{}</thread>\n", t, cpu, cpu, escaped);
  }
  xml += "</threads>\n";
  return xml;
}

Session::Reply Session::handle(const req::HaltReason&) {
  if (multi_ && target_.threads().empty()) return std::string("W00");  // no process yet, as gdbserver --multi
  if (non_stop_) return halt_reason_nonstop();
  return stop_reply(target_.last_stop());
}

Session::Reply Session::handle(const req::ReadAllRegisters&) {
  auto regs = target_.read_all_registers(current_g());
  if (!regs) return error_reply(regs.error());
  return to_hex(*regs);
}

Session::Reply Session::handle(const req::WriteAllRegisters& r) {
  auto st = target_.write_all_registers(current_g(), r.data);
  if (!st) return write_error(st.error());
  return "OK";
}

std::string Session::write_error(const Error& e) const {
  // gdb 13 prints the reply: 'Could not write register "z0"; remote failure
  // reply 'E.vCPU 0: ...'' (remote.c, store_register_using_P).
  return client_text_errors_ ? error_reply_text(e) : error_reply(e);
}

Session::Reply Session::handle(const req::ReadRegister& r) {
  auto value = target_.read_register(current_g(), r.regnum);
  if (!value) return error_reply(value.error());
  return to_hex(*value);
}

Session::Reply Session::handle(const req::WriteRegister& r) {
  auto st = target_.write_register(current_g(), r.regnum, r.data);
  if (!st) return write_error(st.error());
  return "OK";
}

Session::Reply Session::handle(const req::ReadMemory& r) {
  // Never allocate what the client asks blindly: a reply can carry at most
  // PacketSize/2 bytes; gdb continues with the rest (partial reads are legal).
  // gdb asks for PacketSize/2 bytes at a time: give it all of that, so 1 MiB
  // is 16 round trips, not 17.
  const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(r.length, kPacketSize / 2));
  if (len == 0) return std::string{};
  auto data = target_.read_memory(current_g(), r.addr, len);
  if (!data) return error_reply(data.error());
  if (data->empty()) return error_reply(ProtocolError::MemoryFault);
  return to_hex(*data);
}

Session::Reply Session::handle(const req::WriteMemory& r) {
  auto st = target_.write_memory(current_g(), r.addr, r.data);
  if (!st) return error_reply(st.error());
  return "OK";
}

Session::Reply Session::handle(const req::SetThread& r) {
  ThreadId chosen = 0;
  if (r.thread.kind == ThreadSel::Kind::Id) {
    if (!target_.thread_alive(r.thread.id)) return error_reply(ProtocolError::NoSuchThread);
    chosen = r.thread.id;
  }
  (r.op == 'g' ? g_thread_ : c_thread_) = chosen;
  return "OK";
}

Session::Reply Session::handle(const req::ThreadAlive& r) {
  if (r.thread.kind == ThreadSel::Kind::Id && target_.thread_alive(r.thread.id)) return "OK";
  return error_reply(ProtocolError::NoSuchThread);
}

Session::Reply Session::handle(const req::ThreadInfoFirst&) {
  std::string s = "m";
  bool first = true;
  for (ThreadId t : target_.threads()) {
    if (!first) s += ',';
    s += fmt::format("{:x}", t);
    first = false;
  }
  return first ? std::string("l") : s;
}

Session::Reply Session::handle(const req::ThreadInfoNext&) { return std::string("l"); }

Session::Reply Session::handle(const req::CurrentThread&) { return fmt::format("QC{:x}", current_g()); }

Session::Reply Session::handle(const req::Attached&) {
  return std::string("1");  // we attached to an existing guest: quitting gdb detaches
}

Session::Reply Session::handle(const req::ThreadExtraInfo& r) {
  auto tid = resolve(r.thread);
  if (!tid) return error_reply(ProtocolError::NoSuchThread);
  return to_hex(target_.thread_extra_info(*tid));
}

Session::Reply Session::handle(const req::ThreadStopInfo& r) {
  // lldb asks this for the threads the last stop reply did not name, and
  // takes each thread's expedited `vg` from the answer to size its SVE
  // registers (docs/clients.md). Threads other than the one that stopped
  // report signal 0 (no stop reason).
  if (!target_.thread_alive(r.thread.id)) return error_reply(ProtocolError::NoSuchThread);
  StopEvent stop = target_.last_stop();
  if (stop.thread != r.thread.id) stop = StopEvent{r.thread.id, Signal::None};
  return stop_reply(stop);
}

Session::Reply Session::handle(const req::VContQuery&) { return std::string("vCont;c;C;s;S;t"); }

Session::Reply Session::handle(const req::VCont& r) {
  std::vector<ResumeAction> actions;
  for (const auto& a : r.actions) {
    ResumeAction ra;
    switch (a.op) {
      case 'c':
      case 'C': ra.kind = ResumeKind::Continue; break;
      case 's':
      case 'S': ra.kind = ResumeKind::Step; break;
      case 't': ra.kind = ResumeKind::Stop; break;
      default: return error_reply(ProtocolError::Malformed);
    }
    if (a.thread && a.thread->kind == ThreadSel::Kind::Id) {
      if (!target_.thread_alive(a.thread->id)) return error_reply(ProtocolError::NoSuchThread);
      ra.thread = a.thread->id;
    }
    actions.push_back(ra);
  }
  if (actions.empty()) return error_reply(ProtocolError::Malformed);
  if (non_stop_) return vcont_nonstop(actions);
  // "vCont packet": each thread takes the leftmost action that matches it
  // (an action without a thread-id matches every thread). `t` stops a
  // thread, so a thread it applies to is never resumed: its step or
  // continue actions further right are dropped here.
  std::vector<ResumeAction> run;  // the step and continue actions that apply
  std::vector<ThreadId> stopped;  // threads whose action is `t`
  bool runs = false;
  for (ThreadId t : target_.threads()) {
    auto it = std::find_if(actions.begin(), actions.end(), [t](const auto& a) { return !a.thread || *a.thread == t; });
    if (it == actions.end()) continue;
    if (it->kind == ResumeKind::Stop) stopped.push_back(t);
    if (it->kind == ResumeKind::Step) run.push_back(ResumeAction{ResumeKind::Step, t});
    if (it->kind == ResumeKind::Continue) runs = true;
  }
  if (runs && !stopped.empty()) {
    // All-stop: the guest's vCPUs run together, so some cannot go on while
    // others stay stopped.
    return error_reply_text(Error{EINVAL,
                                  "vCont: in all-stop mode a thread cannot stay stopped (t) while others "
                                  "continue"});
  }
  if (runs) {
    for (const auto& a : actions)
      if (a.kind == ResumeKind::Continue) run.push_back(a);
  }
  if (run.empty()) return stop_now(stopped);
  return resume(run, std::nullopt);
}

Session::Reply Session::stop_now(const std::vector<ThreadId>& stopped) {
  // Every thread named is stopped already (all-stop): nothing resumes. As
  // gdbserver in all-stop mode, the reply is a stop reply, signal 0, for
  // the current thread if it was named, else the first one named.
  const ThreadId g = current_g();
  const bool named = std::find(stopped.begin(), stopped.end(), g) != stopped.end();
  const ThreadId t = named || stopped.empty() ? g : stopped.front();
  g_thread_ = t;
  return stop_reply(StopEvent{t, Signal::None});
}

Session::Reply Session::handle(const req::Continue& r) {
  ResumeAction a{ResumeKind::Continue, std::nullopt};
  return resume(std::span(&a, 1), r.addr);
}

Session::Reply Session::handle(const req::Step& r) {
  // `s` steps the Hc thread; Hc 0/-1 means "the current thread".
  ResumeAction a{ResumeKind::Step, c_thread_ != 0 ? c_thread_ : current_g()};
  return resume(std::span(&a, 1), r.addr);
}

Session::Reply Session::resume(std::span<const ResumeAction> actions, std::optional<std::uint64_t> addr) {
  // Non-stop mode resumes threads with vCont only ("Remote Non-Stop").
  if (non_stop_) return error_reply_text(Error{EINVAL, "in non-stop mode, resume threads with vCont"});
  if (addr) {
    // "c addr": resume at addr. pc is register 32 in the AArch64 core feature.
    ThreadId t = c_thread_ != 0 ? c_thread_ : current_g();
    std::array<std::byte, 8> pc{};
    for (std::size_t i = 0; i < pc.size(); ++i) pc[i] = static_cast<std::byte>(*addr >> (8 * i));
    auto st = target_.write_register(t, 32, pc);
    if (!st) return error_reply_text(st.error());
  }
  auto st = target_.resume(actions);
  if (!st) return error_reply_text(st.error());
  running_ = true;
  return std::nullopt;  // the stop reply is sent when the target stops
}

Session::Reply Session::handle(const req::Breakpoint& r) {
  const auto type = static_cast<BreakpointType>(r.type);
  auto st =
      r.insert ? target_.insert_breakpoint(type, r.addr, r.kind) : target_.remove_breakpoint(type, r.addr, r.kind);
  // An empty reply tells gdb this breakpoint type is not supported at all.
  if (!st && st.error().code == ENOSYS) return std::string{};
  if (!st) return error_reply(st.error());
  return std::string("OK");
}

Session::Reply Session::handle(const req::Detach&) {
  if (multi_ && extended_) return detach_extended();
  target_.detach();
  closed_ = true;
  return std::string("OK");
}

Session::Reply Session::handle(const req::Kill&) {
  if (multi_) return kill_multi();
  // `k` has no reply ("Packets": the target may close the connection).
  target_.kill();
  closed_ = true;
  return std::nullopt;
}

Session::Reply Session::handle(const req::Monitor& r) {
  auto output = target_.monitor(r.command);
  // qRcmd: reply with the hex-encoded output. Failures are reported as text
  // too, so the user sees why (an `Exx` only says "Protocol error").
  std::string text = output ? *output : fmt::format("error: {}\n", output.error().message);
  if (text.empty()) return std::string("OK");
  // Output too large for one reply goes out as console packets ('O' +
  // hex, "qRcmd": "the target may also respond with a number of
  // intermediate `Ooutput` console output packets"), then OK.
  constexpr std::size_t kChunk = (kPacketSize - 64) / 2;
  if (text.size() <= kChunk) return to_hex(text);
  for (std::size_t off = 0; off < text.size(); off += kChunk)
    console_output_.push_back("O" + to_hex(std::string_view(text).substr(off, kChunk)));
  return std::string("OK");
}

Session::Reply Session::handle(const req::Unknown&) { return std::string{}; }

}  // namespace svedbg::gdbstub
