// gdbstub::Session: one gdb client's conversation, as a pure state machine.
//
// Contract: bytes from the client go into feed(); the bytes to send back come
// out (acks, replies, stop notifications). No sockets and no threads here, so
// the wire-level tests drive exactly the production code over an in-memory
// transport. Each packet is parsed into a typed request (requests.hpp) and
// dispatched through one table to one small handler; `Exx` replies come from
// errors.hpp only. Acks follow the protocol until QStartNoAckMode; a NAK
// retransmits the last reply; 0x03 interrupts a running target. After `D` or
// `k` the session is closed(): the transport flushes and hangs up.
//
// Output is bounded before it is built: one feed() starts no new request
// once kOutputBudget bytes of output are waiting; the requests not handled
// yet stay in a backlog (backlogged()) until the transport, having sent the
// output, calls feed() again (with no new bytes). So one feed() returns at
// most kOutputBudget plus one request's output, never over
// kMaxPendingOutput, however many requests or NAKs the bytes carry. A run
// of NAKs with nothing between them asks once for the same retransmission
// ("Packet Acknowledgment") and is answered once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "gdbstub/framing.hpp"
#include "gdbstub/requests.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

class ProcessSlot;  // process_slot.hpp

// Output one feed() may build before it stops starting new requests: one
// largest reply (PacketSize hex digits and framing).
inline constexpr std::size_t kOutputBudget = kMaxPacketSize;
// Output a client may have pending (here and in the transport), at most.
inline constexpr std::size_t kMaxPendingOutput = 4 << 20;

struct SessionOptions {
  bool run_length_replies = true;  // '*' compression of replies (gdb decodes it)
};

class Session {
 public:
  explicit Session(Target& target, SessionOptions options = {});

  // Called once, before the first packet is handled (the transport stops
  // the guest there, so a connection that never sends one leaves it alone).
  void set_before_first_packet(std::function<void()> hook) { before_first_packet_ = std::move(hook); }

  // `serve --multi`: the session's target is this slot (the session does
  // not own it), and `!`, vAttach, vKill, vRun, qXfer:osdata and the
  // extended-mode D/k/? are served (session_extended.cpp).
  void enable_multi(ProcessSlot& slot) { multi_ = &slot; }

  // Bytes from the client (possibly none, to go on with the backlog);
  // returns the bytes to send (possibly empty).
  std::string feed(std::string_view bytes);
  // Requests received but not handled yet because the output budget was
  // reached: call feed() again once the output was sent.
  bool backlogged() const { return !closed_ && !backlog_.empty(); }
  // A valid packet has arrived on this session.
  bool seen_packet() const { return seen_packet_; }
  // The target reported that it may have stopped: returns a stop reply to
  // send if the client is waiting for one, else empty.
  std::string poll_stop();

  bool closed() const { return closed_; }
  // True while the client may be waiting for a stop: all-stop and running,
  // or non-stop mode, where threads run while the client talks.
  bool running() const { return running_ || non_stop_; }
  bool no_ack() const { return no_ack_; }

  // The table's handlers (public so the dispatch table can name them).
  using Reply = std::optional<std::string>;  // nullopt: send nothing now
  Reply handle(const req::QSupported&);
  Reply handle(const req::StartNoAckMode&);
  Reply handle(const req::XferRead&);
  Reply handle(const req::HaltReason&);
  Reply handle(const req::ReadAllRegisters&);
  Reply handle(const req::WriteAllRegisters&);
  Reply handle(const req::ReadRegister&);
  Reply handle(const req::WriteRegister&);
  Reply handle(const req::ReadMemory&);
  Reply handle(const req::WriteMemory&);
  Reply handle(const req::SetThread&);
  Reply handle(const req::ThreadAlive&);
  Reply handle(const req::ThreadInfoFirst&);
  Reply handle(const req::ThreadInfoNext&);
  Reply handle(const req::CurrentThread&);
  Reply handle(const req::Attached&);
  Reply handle(const req::ThreadExtraInfo&);
  Reply handle(const req::ThreadStopInfo&);
  Reply handle(const req::VContQuery&);
  Reply handle(const req::VCont&);
  Reply handle(const req::Continue&);
  Reply handle(const req::Step&);
  Reply handle(const req::Breakpoint&);
  Reply handle(const req::Detach&);
  Reply handle(const req::Kill&);
  Reply handle(const req::Monitor&);
  Reply handle(const req::Unknown&);
  Reply handle(const req::ReadMemoryBinary&);  // session_memory.cpp
  Reply handle(const req::ExtendedMode&);
  Reply handle(const req::AttachProcess&);
  Reply handle(const req::RunProcess&);
  Reply handle(const req::KillProcess&);
  // Non-stop mode (session_nonstop.cpp).
  Reply handle(const req::NonStop&);
  Reply handle(const req::StopAck&);
  Reply handle(const req::CtrlC&);

 private:
  void on_event(FrameEvent& ev, std::string& out);
  void on_packet(std::string_view payload, std::string& out);
  Reply stop_now(const std::vector<ThreadId>& stopped);
  void send(std::string_view payload, std::string& out);
  std::string stop_reply(const StopEvent& stop);
  std::optional<ThreadId> resolve(const ThreadSel& sel) const;
  ThreadId current_g() const;
  Reply resume(std::span<const ResumeAction> actions, std::optional<std::uint64_t> addr);
  Reply xfer_chunk(const std::string& document, std::uint64_t offset, std::uint64_t length);
  std::string threads_xml();
  // A refused register write: "E.text" for a client that prints it, else Exx.
  std::string write_error(const Error& e) const;
  // ";binary-upload+" for a client that announced it (x replies 'b' + data);
  // empty otherwise, so lldb keeps its own probed form (session_memory.cpp).
  const char* binary_upload_feature() const { return client_binary_upload_ ? ";binary-upload+" : ""; }
  std::string binary_memory_reply(std::span<const std::byte> data) const;
  Reply detach_extended();
  Reply kill_multi();
  Reply osdata(const req::XferRead& r);
  // Non-stop mode (session_nonstop.cpp).
  std::string poll_stop_nonstop();
  Reply halt_reason_nonstop();
  Reply vcont_nonstop(std::span<const ResumeAction> actions);
  Status interrupt_nonstop();
  void drop_queued_stops(ThreadId tid);

  Target& target_;
  SessionOptions options_;
  FrameParser parser_;
  std::deque<FrameEvent> backlog_;  // parsed, not handled yet (output budget reached)
  bool seen_packet_ = false;
  std::function<void()> before_first_packet_;
  bool no_ack_ = false;
  bool closed_ = false;
  bool running_ = false;
  std::string last_packet_;                  // framed, for NAK retransmission
  std::vector<std::string> console_output_;  // 'O' packets to send before the reply
  ThreadId g_thread_ = 0;                    // Hg selection (0 = first thread)
  ThreadId c_thread_ = 0;                    // Hc selection (0 = any)
  bool client_swbreak_ = false;              // qSupported: the client understands swbreak/hwbreak
  bool client_hwbreak_ = false;
  bool client_binary_upload_ = false;  // qSupported: gdb 16+ "binary-upload+" (x replies 'b' + data)
  bool client_text_errors_ = false;    // qSupported from gdb: "E.text" replies are shown as text
  ProcessSlot* multi_ = nullptr;  // serve --multi
  bool extended_ = false;         // `!` received
  std::string osdata_document_;   // the qXfer:osdata document being read (made at offset 0)
  // Non-stop mode ("Remote Non-Stop"): QNonStop:1 is in force. The queue
  // holds stop replies for the client; its head is the one reported last
  // (by a %Stop notification, `?` or vStopped) and not yet acknowledged.
  bool non_stop_ = false;
  std::deque<StopEvent> stop_queue_;
};

}  // namespace svedbg::gdbstub
