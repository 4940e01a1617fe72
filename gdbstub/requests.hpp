// Typed requests: one decoded GDB packet payload -> one Request value.
//
// Contract: parse_request() takes a payload as FrameParser delivers it
// ('}' escapes and '*' run-length already undone) and classifies it without
// touching any target. It recognises exactly the packets below (GDB manual,
// Remote Protocol > Packets, General Query Packets, Packets for vCont). A
// recognised packet with bad arguments ("pzz", "m1,", "Hx1") is an EINVAL
// Error whose message names the packet, which the session answers with an
// `E` reply. Anything else, including packets from a family we know but do
// not implement (qTStatus, vMustReplyEmpty, qSymbol::, Z0,..., qXfer writes)
// and the empty payload, is req::Unknown, which the session answers with an
// empty packet ("unsupported"). Lengths from the client (m, x, qXfer) are only
// parsed here, never allocated: capping them to PacketSize is the
// session's job. The parser is pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

// A thread-id as in the manual's "thread-id syntax": "0" any thread, "-1"
// all threads, otherwise positive hex. The multiprocess form "p<pid>.<tid>"
// is accepted and only its tid part kept ("p<pid>" alone means all threads).
struct ThreadSel {
  enum class Kind { Any, All, Id } kind = Kind::Any;
  ThreadId id = 0;  // meaningful for Kind::Id only
};

namespace req {

struct QSupported {  // qSupported[:feature;feature...]
  std::vector<std::string> features;
};
struct StartNoAckMode {};  // QStartNoAckMode
struct XferRead {          // qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
  std::string object;
  std::string annex;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};
struct HaltReason {};        // ?
struct ReadAllRegisters {};  // g
struct WriteAllRegisters {   // G XX...
  Bytes data;
};
struct ReadRegister {  // p n
  unsigned regnum = 0;
};
struct WriteRegister {  // P n=XX...
  unsigned regnum = 0;
  Bytes data;
};
struct ReadMemory {  // m addr,length
  std::uint64_t addr = 0;
  std::uint64_t length = 0;
};
struct ReadMemoryBinary {  // x addr,length (gdb 16+ "binary-upload"; lldb's own form)
  std::uint64_t addr = 0;
  std::uint64_t length = 0;
};
struct WriteMemory {  // M addr,length:XX... and X addr,length:binary
  std::uint64_t addr = 0;
  Bytes data;
};
struct SetThread {  // Hg thread-id, Hc thread-id
  char op = 'g';
  ThreadSel thread;
};
struct ThreadAlive {  // T thread-id
  ThreadSel thread;
};
struct ThreadInfoFirst {};  // qfThreadInfo
struct ThreadInfoNext {};   // qsThreadInfo
struct CurrentThread {};    // qC
struct Attached {};         // qAttached, qAttached:pid
struct ThreadExtraInfo {    // qThreadExtraInfo,thread-id
  ThreadSel thread;
};
struct ThreadStopInfo {  // qThreadStopInfo<thread-id> (lldb-gdb-remote.txt)
  ThreadSel thread;
};
struct VContQuery {};  // vCont?
struct VContAction {   // one of c, Csig, s, Ssig, t, each with optional :thread-id
  char op = 'c';
  std::uint8_t signal = 0;  // for C and S
  std::optional<ThreadSel> thread;
};
struct VCont {  // vCont;action[:thread-id][;action...]
  std::vector<VContAction> actions;
};
struct Continue {  // c [addr], C sig[;addr]
  std::optional<std::uint64_t> addr;
  std::uint8_t signal = 0;
};
struct Step {  // s [addr], S sig[;addr]
  std::optional<std::uint64_t> addr;
  std::uint8_t signal = 0;
};
struct Breakpoint {  // Z type,addr,kind (insert) and z type,addr,kind (remove)
  bool insert = true;
  unsigned type = 0;  // 0 software, 1 hardware, 2 write, 3 read, 4 access watchpoint
  std::uint64_t addr = 0;
  std::uint64_t kind = 0;  // breakpoint: instruction size; watchpoint: length in bytes
};
struct Detach {};       // D, D;pid
struct Kill {};         // k
struct Monitor {        // qRcmd,HEX
  std::string command;  // decoded text
};
// Extended remote ("Extended Remote", `serve --multi`).
struct ExtendedMode {};  // !
struct AttachProcess {   // vAttach;pid
  long pid = 0;
};
struct RunProcess {  // vRun;filename[;argument]...
  std::string payload;
};
struct KillProcess {  // vKill;pid
  long pid = 0;
};
struct NonStop {  // QNonStop:1 / QNonStop:0 ("Remote Non-Stop")
  bool on = false;
};
struct StopAck {};  // vStopped: acknowledges a %Stop notification
struct CtrlC {};    // vCtrlC: non-stop mode's 0x03
struct Unknown {  // anything else: the session replies with an empty packet
  std::string payload;
};

}  // namespace req

using Request =
    std::variant<req::QSupported, req::StartNoAckMode, req::XferRead, req::HaltReason, req::ReadAllRegisters,
                 req::WriteAllRegisters, req::ReadRegister, req::WriteRegister, req::ReadMemory, req::WriteMemory,
                 req::SetThread, req::ThreadAlive, req::ThreadInfoFirst, req::ThreadInfoNext, req::CurrentThread,
                 req::Attached, req::ThreadExtraInfo, req::ThreadStopInfo, req::VContQuery, req::VCont, req::Continue,
                 req::Step, req::Breakpoint, req::Detach, req::Kill, req::Monitor, req::Unknown,
                 req::ExtendedMode, req::AttachProcess, req::RunProcess, req::KillProcess, req::ReadMemoryBinary, req::NonStop, req::StopAck, req::CtrlC>;

// Parse "0", "-1", hex, "p<pid>.<tid>" or "p<pid>"; nullopt if malformed.
std::optional<ThreadSel> parse_thread_sel(std::string_view text);

// Classify one packet payload; see the contract above.
Result<Request> parse_request(std::string_view payload);

}  // namespace svedbg::gdbstub
