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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gdbstub/framing.hpp"
#include "gdbstub/requests.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

struct SessionOptions {
  bool run_length_replies = true;  // '*' compression of replies (gdb decodes it)
};

class Session {
 public:
  explicit Session(Target& target, SessionOptions options = {});

  // Bytes from the client; returns the bytes to send (possibly empty).
  std::string feed(std::string_view bytes);
  // The target reported that it may have stopped: returns a stop reply to
  // send if the client is waiting for one, else empty.
  std::string poll_stop();

  bool closed() const { return closed_; }
  bool running() const { return running_; }
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

 private:
  void on_packet(std::string_view payload, std::string& out);
  void send(std::string_view payload, std::string& out);
  std::string stop_reply(const StopEvent& stop);
  std::optional<ThreadId> resolve(const ThreadSel& sel) const;
  ThreadId current_g() const;
  Reply resume(std::span<const ResumeAction> actions, std::optional<std::uint64_t> addr);
  Reply xfer_chunk(const std::string& document, std::uint64_t offset, std::uint64_t length);
  std::string threads_xml();

  Target& target_;
  SessionOptions options_;
  FrameParser parser_;
  bool no_ack_ = false;
  bool closed_ = false;
  bool running_ = false;
  std::string last_packet_;                  // framed, for NAK retransmission
  std::vector<std::string> console_output_;  // 'O' packets to send before the reply
  ThreadId g_thread_ = 0;                    // Hg selection (0 = first thread)
  ThreadId c_thread_ = 0;                    // Hc selection (0 = any)
  bool client_swbreak_ = false;              // qSupported: the client understands swbreak/hwbreak
  bool client_hwbreak_ = false;
};

}  // namespace svedbg::gdbstub
