// Session: binary memory reads, the `x addr,length` packet, in the form the
// client negotiated.
//
// Two clients send `x` and expect different replies:
//  * gdb 16+ announces "binary-upload+" in qSupported and uses `x` only if
//    the stub answers with "binary-upload+" too; the reply is 'b' followed by
//    the data (GDB manual, Packets, 'x'). We advertise the feature to such a
//    client only.
//  * lldb (14 in Debian 12) never announces it: it probes with "x0,0" and
//    uses `x` if the reply is "OK"; the reply is the data with no prefix
//    (lldb-gdb-remote.txt, 'x'; GDBRemoteCommunicationClient::
//    GetxPacketSupported, ProcessGDBRemote::DoReadMemory). Newer lldb uses
//    the gdb form only when the stub advertises "binary-upload+", which it
//    does not do here since lldb did not ask for it.
// In both the data is binary: '#', '$', '}' and '*' go out as '}' then the
// byte XOR 0x20 (Overview, "Binary data"), done by encode_packet(), whose
// run-length encoding never covers an escaped byte, so gdb (which expands
// '*' before undoing escapes) and lldb (which does both in one pass) decode
// the same bytes. Limits and errors are those of `m`: at most PacketSize
// bytes on the wire (a partial read when escapes would overflow it, as
// gdbserver does), Exx when nothing is readable at the address.
#include <algorithm>
#include <cctype>

#include "gdbstub/errors.hpp"
#include "gdbstub/session.hpp"

namespace svedbg::gdbstub {
namespace {

bool escaped_on_wire(std::byte b) {
  const auto c = static_cast<char>(b);
  return c == '#' || c == '$' || c == '}' || c == '*';
}

// How many leading bytes of `data` fit in `budget` bytes once escaped.
std::size_t fitting(std::span<const std::byte> data, std::size_t budget) {
  std::size_t used = 0;
  std::size_t n = 0;
  for (; n < data.size(); ++n) {
    used += escaped_on_wire(data[n]) ? 2 : 1;
    if (used > budget) break;
  }
  return n;
}

bool is_hex(std::byte b) { return std::isxdigit(static_cast<unsigned char>(b)) != 0; }

// lldb classifies a reply before it looks at what it asked for
// (StringExtractorGDBRemote::GetResponseType): data reading "OK", "Enn",
// "Enn;hex...", "+" or "-" would be taken for a status, not memory. Such a
// reply is cut to its first byte (lldb reads the rest next: a partial read),
// or, for a one-byte "+"/"-", sent with the byte after it (`extra`), of
// which lldb keeps only the byte it asked for (DoReadMemory).
std::size_t lldb_unambiguous(std::span<const std::byte> data, std::size_t n, std::size_t extra) {
  const auto at = [&](std::size_t i) { return static_cast<char>(data[i]); };
  if (n == 2 && at(0) == 'O' && at(1) == 'K') return 1;
  if (n >= 3 && at(0) == 'E' && is_hex(data[1]) && is_hex(data[2])) {
    if (n == 3) return 1;
    if (at(3) == ';' && std::all_of(data.begin() + 4, data.begin() + static_cast<std::ptrdiff_t>(n), is_hex)) return 1;
  }
  if (n == 1 && (at(0) == '+' || at(0) == '-')) return n + extra;
  return n;
}

}  // namespace

std::string Session::binary_memory_reply(std::span<const std::byte> data) const {
  const std::string_view prefix = client_binary_upload_ ? "b" : "";
  std::string reply(prefix);
  reply.append(reinterpret_cast<const char*>(data.data()), data.size());
  return reply;
}

Session::Reply Session::handle(const req::ReadMemoryBinary& r) {
  const bool gdb_form = client_binary_upload_;
  // lldb's probe "x0,0" wants OK; gdb's form of an empty read is a bare 'b'.
  if (r.length == 0) return std::string(gdb_form ? "b" : "OK");
  // As for `m`, what the client asks is never allocated blindly: one reply
  // carries at most PacketSize bytes on the wire.
  const std::size_t wire_budget = kMaxPacketSize - (gdb_form ? 1 : 0);
  const std::size_t asked = static_cast<std::size_t>(std::min<std::uint64_t>(r.length, wire_budget));
  // One byte more for lldb's one-byte reads (lldb_unambiguous), unless at
  // the top of the address space.
  const bool one_more = !gdb_form && asked == 1 && r.addr != UINT64_MAX;
  auto data = target_.read_memory(current_g(), r.addr, asked + (one_more ? 1 : 0));
  if (!data) return error_reply(data.error());
  if (data->empty()) return error_reply(ProtocolError::MemoryFault);
  const std::span<const std::byte> bytes(*data);
  std::size_t n = fitting(bytes.first(std::min(asked, bytes.size())), wire_budget);
  if (!gdb_form) n = lldb_unambiguous(bytes, n, bytes.size() > n ? 1 : 0);
  return binary_memory_reply(bytes.first(n));
}

}  // namespace svedbg::gdbstub
