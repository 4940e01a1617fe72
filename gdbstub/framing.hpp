// Packet framing for the GDB remote serial protocol, with no I/O.
//
// Contract: FrameParser turns an arbitrary split of the byte stream from gdb
// into events: whole packets (`$payload#xx`, checksum verified, '}' escapes
// undone and '*' run-length encoding expanded), acks '+', naks '-', and the
// out-of-band interrupt 0x03 (GDB manual, Remote Protocol > Overview,
// Binary data, and "Interrupts"). It never blocks, never throws, keeps at most
// `max_payload` decoded bytes buffered however long a packet is, and treats
// any garbage as a FramingError event (the session NAKs it) or skips it.
// Acknowledgment policy (no-ack mode) belongs to the session: the parser
// always verifies checksums and reports mismatches. encode_packet() builds
// what the stub sends; decoding its output with FrameParser gives the input
// back for every payload. Neither keeps global state; one FrameParser per
// connection, used from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace svedbg::gdbstub {

// A complete packet; `payload` is after '}' unescaping and '*' expansion.
struct PacketEvent {
  std::string payload;
};
// '+', '-' and 0x03 seen outside a packet.
struct AckEvent {};
struct NackEvent {};
struct InterruptEvent {};

enum class FramingErrorKind {
  BadChecksum,   // checksum digits not hex, or not the sum of the raw body
  Overlong,      // decoded payload longer than the parser's max_payload
  BadRunLength,  // malformed payload encoding: '*' with no previous byte or a
                 // count outside 32..126, or a '}' escape/'*' cut off by '#'
};

struct FramingError {
  FramingErrorKind kind;
  std::string detail;  // human-readable, for logs
};

using FrameEvent = std::variant<PacketEvent, AckEvent, NackEvent, InterruptEvent, FramingError>;

// What qSupported advertises as PacketSize (0x20000 bytes of payload).
inline constexpr std::size_t kMaxPacketSize = 0x20000;

class FrameParser {
 public:
  explicit FrameParser(std::size_t max_payload = kMaxPacketSize);

  // Consume `bytes` (any split of the stream, possibly empty) and return the
  // events completed by them, in stream order. A partial packet is kept for
  // the next call.
  //
  // Rules (GDB manual, Remote Protocol > Overview):
  //  * Outside a packet, '+' / '-' / 0x03 are events; '$' opens a packet;
  //    every other byte is line noise and is skipped.
  //  * The checksum is the sum mod 256 of the raw bytes between '$' and '#'
  //    (escape and run-length characters included), as two hex digits of
  //    either case. Checked first: a mismatch is reported as BadChecksum even
  //    if the body is also malformed, since the body cannot be trusted.
  //  * '$' anywhere inside a packet (body or checksum) drops the partial
  //    packet silently and starts a new one, which is how gdb resynchronises
  //    after a retransmission. '#' always ends the body: both are escaped
  //    in binary data, so a raw one is never payload.
  //  * '}' escape (Overview, "Binary data"): the next raw byte XOR 0x20.
  //  * '*' run-length (Overview, "Run-length encoding"): the next raw byte n
  //    (32..126) repeats the previous decoded byte n - 29 more times. The
  //    manual only promises RLE in stub responses, but gdb escapes '*' in the
  //    binary data it sends (remote_escape_output), so expanding '*' in
  //    gdb's packets never corrupts X data.
  //  * A payload whose decoded length exceeds max_payload is consumed to its
  //    '#xx' without buffering the excess and reported as Overlong.
  std::vector<FrameEvent> feed(std::string_view bytes);

 private:
  enum class State { Idle, Body, ChecksumHigh, ChecksumLow };

  void start_packet();
  void body_byte(unsigned char c);
  void append_decoded(char c);
  void fail(FramingErrorKind kind, std::string detail);
  void finish_packet(unsigned char low_digit, std::vector<FrameEvent>& out);

  std::size_t max_payload_;
  State state_ = State::Idle;
  std::string payload_;           // decoded bytes, at most max_payload_
  std::size_t decoded_size_ = 0;  // decoded length, including dropped excess
  char previous_ = 0;             // last decoded byte, for '*'
  std::uint8_t raw_sum_ = 0;      // running checksum of the raw body
  bool escape_pending_ = false;   // saw '}', next raw byte is escaped
  bool repeat_pending_ = false;   // saw '*', next raw byte is the count
  bool failed_ = false;           // error_ holds the first body error
  FramingError error_{};
  unsigned char checksum_high_ = 0;
};

// "$" + body + "#" + two lowercase hex digits of the body's checksum, where
// body is `payload` with '$', '#', '}' and '*' escaped as '}' + (c ^ 0x20)
// and, if run_length, runs of 4..98 identical unescaped bytes sent as
// c + '*' + char(run - 1 + 29) (Overview, "Run-length encoding"). Runs whose
// count character would be '#' (7 bytes) or '$' (8 bytes) are shortened to
// 6 and the rest is sent as a new run, as the manual prescribes; escaped
// bytes are never run-length encoded because gdb expands '*' before it
// undoes escapes and would repeat the escaped character instead.
std::string encode_packet(std::string_view payload, bool run_length = true);

}  // namespace svedbg::gdbstub
