#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gdbstub/framing.hpp"

using namespace svedbg::gdbstub;

namespace {

// One event as a short comparable string: "P:<payload>", "+", "-", "^C",
// "E:checksum" / "E:overlong" / "E:rle".
std::string describe(const FrameEvent& ev) {
  struct Visitor {
    std::string operator()(const PacketEvent& p) const { return "P:" + p.payload; }
    std::string operator()(const AckEvent&) const { return "+"; }
    std::string operator()(const NackEvent&) const { return "-"; }
    std::string operator()(const InterruptEvent&) const { return "^C"; }
    std::string operator()(const FramingError& e) const {
      switch (e.kind) {
        case FramingErrorKind::BadChecksum: return "E:checksum";
        case FramingErrorKind::Overlong: return "E:overlong";
        case FramingErrorKind::BadRunLength: return "E:rle";
      }
      return "E:?";
    }
  };
  return std::visit(Visitor{}, ev);
}

std::vector<std::string> describe_all(const std::vector<FrameEvent>& evs) {
  std::vector<std::string> out;
  for (const auto& ev : evs) out.push_back(describe(ev));
  return out;
}

std::vector<std::string> feed_all(std::string_view stream, std::size_t max = kMaxPacketSize) {
  FrameParser p(max);
  return describe_all(p.feed(stream));
}

std::vector<std::string> feed_bytewise(std::string_view stream, std::size_t max = kMaxPacketSize) {
  FrameParser p(max);
  std::vector<std::string> out;
  for (char c : stream) {
    for (auto& s : describe_all(p.feed(std::string_view(&c, 1)))) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> feed_split(std::string_view stream, std::size_t at, std::size_t max = kMaxPacketSize) {
  FrameParser p(max);
  auto out = describe_all(p.feed(stream.substr(0, at)));
  for (auto& s : describe_all(p.feed(stream.substr(at)))) out.push_back(std::move(s));
  return out;
}

// Frame a raw body (already escaped/RLE'd by hand) with its true checksum.
std::string frame(std::string_view raw_body) {
  unsigned sum = 0;
  for (char c : raw_body) sum += static_cast<unsigned char>(c);
  return fmt::format("${}#{:02x}", raw_body, sum & 0xff);
}

// Every feeding strategy must agree.
void check_stream(std::string_view stream, const std::vector<std::string>& expected, std::size_t max = kMaxPacketSize) {
  CHECK(feed_all(stream, max) == expected);
  CHECK(feed_bytewise(stream, max) == expected);
  for (std::size_t at = 0; at <= stream.size(); ++at) {
    INFO("split at " << at);
    CHECK(feed_split(stream, at, max) == expected);
  }
}

// gdb's own order of decoding a stub reply (remote.c read_frame, then
// remote_unescape_input for binary replies): '*' repeats the previous *raw*
// character, escapes are undone afterwards. Used to check that encode_packet
// output means the same thing to gdb as to FrameParser.
std::string gdb_style_decode(std::string_view packet) {
  REQUIRE(packet.size() >= 4);
  REQUIRE(packet.front() == '$');
  const std::string_view body = packet.substr(1, packet.size() - 4);
  std::string raw;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '*') {
      REQUIRE(i + 1 < body.size());
      REQUIRE_FALSE(raw.empty());
      const int repeat = static_cast<unsigned char>(body[++i]) - ' ' + 3;
      REQUIRE(repeat > 0);
      raw.append(static_cast<std::size_t>(repeat), raw.back());
    } else {
      raw.push_back(body[i]);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '}') {
      REQUIRE(i + 1 < raw.size());
      out.push_back(static_cast<char>(raw[++i] ^ 0x20));
    } else {
      out.push_back(raw[i]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("framing: a single packet", "[framing]") {
  // 'O' + 'K' = 0x4f + 0x4b = 0x9a
  check_stream("$OK#9a", {"P:OK"});
  check_stream("$OK#9A", {"P:OK"});  // checksum digits of either case
  check_stream("$#00", {"P:"});      // empty payload
}

TEST_CASE("framing: acks, naks and interrupts interleaved with packets", "[framing]") {
  const std::string stream =
      "+" + frame("qSupported:multiprocess+") + "-" + "\x03" + "+" + frame("g") + "\x03" + frame("m0,4") + "+-";
  check_stream(stream, {"+", "P:qSupported:multiprocess+", "-", "^C", "+", "P:g", "^C", "P:m0,4", "+", "-"});
}

TEST_CASE("framing: + - 0x03 inside a packet are payload", "[framing]") {
  const std::string body = std::string("a+b-c\x03") + "d";
  check_stream(frame(body), {"P:" + body});
}

TEST_CASE("framing: noise outside packets is ignored", "[framing]") {
  check_stream("xyz\r\n#00" + frame("OK") + std::string("\x7f\0junk\0", 7), {"P:OK"});
  check_stream(std::string("\0\x01\x04", 3) + "+", {"+"});
}

TEST_CASE("framing: bad checksum is reported and parsing continues", "[framing]") {
  check_stream(
      "$OK#00"
      "$OK#9a",
      {"E:checksum", "P:OK"});
  check_stream("$OK#zz+", {"E:checksum", "+"});
  check_stream("$OK#9g", {"E:checksum"});
  FrameParser p;
  auto evs = p.feed("$OK#9b");
  REQUIRE(evs.size() == 1);
  const auto* err = std::get_if<FramingError>(&evs[0]);
  REQUIRE(err != nullptr);
  CHECK(err->kind == FramingErrorKind::BadChecksum);
  CHECK_FALSE(err->detail.empty());
}

TEST_CASE("framing: '$' inside a packet restarts it", "[framing]") {
  check_stream("$m0,4$OK#9a", {"P:OK"});   // in the body
  check_stream("$abc#$OK#9a", {"P:OK"});   // where the first checksum digit goes
  check_stream("$abc#1$OK#9a", {"P:OK"});  // where the second one goes
  check_stream("$$$OK#9a+", {"P:OK", "+"});
}

TEST_CASE("framing: '}' escapes are undone", "[framing]") {
  // '}' ^ 0x20 = ']', '#' ^ 0x20 = 0x03, '$' ^ 0x20 = 0x04, '*' ^ 0x20 = 0x0a
  check_stream(frame("X0,4:}]}\x03}\x04}\x0a"), {"P:X0,4:}#$*"});
  // Any byte may be escaped, not only the four that must be.
  check_stream(frame("}A"), {std::string("P:") + static_cast<char>('A' ^ 0x20)});
  // A '}' right before '#' leaves the escape unfinished.
  check_stream(frame("ab}"), {"E:rle"});
}

TEST_CASE("framing: '*' run-length decoding", "[framing]") {
  check_stream(frame("0* "), {"P:0000"});                     // ' ' = 32: 3 more
  check_stream(frame("x0*!y"), {"P:x00000y"});                // '!' = 33: 4 more
  check_stream(frame("a*~"), {"P:" + std::string(98, 'a')});  // '~' = 126: 97 more
  check_stream(frame("a* * "), {"P:aaaaaaa"});                // repeats may chain
  check_stream(frame("}]* "), {"P:}}}}"});                    // repeats the decoded byte
  check_stream(frame("a*}"), {"P:" + std::string(97, 'a')});  // count byte is raw, '}' = 125
  check_stream(frame("a**"), {"P:" + std::string(14, 'a')});  // '*' = 42 as count: 13 more
}

TEST_CASE("framing: invalid run-length encoding", "[framing]") {
  check_stream(frame("* "), {"E:rle"});                            // no previous byte
  check_stream(frame("a*\x1f"), {"E:rle"});                        // count below 32
  check_stream(frame("a*\x7f"), {"E:rle"});                        // count above 126
  check_stream(frame("a*"), {"E:rle"});                            // '#' ends the count
  check_stream(frame("a*\x7f") + frame("OK"), {"E:rle", "P:OK"});  // recovers
  // The checksum is checked first: a corrupted body is a checksum error.
  check_stream("$* #00", {"E:checksum"});
}

TEST_CASE("framing: overlong packets are consumed and reported", "[framing]") {
  check_stream(frame("12345678"), {"P:12345678"}, 8);
  check_stream(frame("123456789") + frame("OK"), {"E:overlong", "P:OK"}, 8);
  check_stream(frame("1*~") + "+", {"E:overlong", "+"}, 8);  // by expansion
  check_stream(frame("1234567}]"), {"P:1234567}"}, 8);       // decoded size counts
  // A huge packet is consumed without being buffered, and the parser recovers.
  FrameParser p(16);
  const std::string big = frame(std::string(1 << 20, 'x'));
  auto evs = describe_all(p.feed(big));
  CHECK(evs == std::vector<std::string>{"E:overlong"});
  CHECK(describe_all(p.feed("$OK#9a")) == std::vector<std::string>{"P:OK"});
}

TEST_CASE("encode_packet: exact bytes", "[framing]") {
  CHECK(encode_packet("OK") == "$OK#9a");  // 0x4f + 0x4b = 0x9a
  CHECK(encode_packet("") == "$#00");
  CHECK(encode_packet("E01") == "$E01#a6");  // 0x45 + 0x30 + 0x31 = 0xa6
  // 16 x '0': '0' '*' then 16 - 1 + 29 = 44 = ','; 0x30 + 0x2a + 0x2c = 0x86
  CHECK(encode_packet("0000000000000000") == "$0*,#86");
  // 32 x '0': count 32 - 1 + 29 = 60 = '<'; 0x30 + 0x2a + 0x3c = 0x96
  CHECK(encode_packet(std::string(32, '0')) == "$0*<#96");
  // 4 x 'a': shortest run worth encoding, count ' ' (32); 0x61 + 0x2a + 0x20 = 0xab
  CHECK(encode_packet("aaaa") == "$a* #ab");
  CHECK(encode_packet("aaa") == "$aaa#23");  // 3 * 0x61 = 0x123
  // 7 x 'a' would need count '#' (35): sent as a run of 6 ('"' = 34) + 'a'.
  // 0x61 + 0x2a + 0x22 + 0x61 = 0x10e
  CHECK(encode_packet("aaaaaaa") == "$a*\"a#0e");
  // 8 x 'a' would need '$' (36): run of 6 + "aa"; 0x10e + 0x61 = 0x16f
  CHECK(encode_packet("aaaaaaaa") == "$a*\"aa#6f");
  // 9 x 'a': count 37 = '%'; 0x61 + 0x2a + 0x25 = 0xb0
  CHECK(encode_packet("aaaaaaaaa") == "$a*%#b0");
  // 98 is the longest run ('~' = 126); 99 leaves one over.
  CHECK(encode_packet(std::string(98, 'a')) == "$a*~#09");   // 0x61 + 0x2a + 0x7e = 0x109
  CHECK(encode_packet(std::string(99, 'a')) == "$a*~a#6a");  // 0x109 + 0x61 = 0x16a
  // No RLE requested.
  CHECK(encode_packet("aaaa", false) == "$aaaa#84");  // 4 * 0x61 = 0x184
}

TEST_CASE("encode_packet: escapes", "[framing]") {
  // '$' -> "}\x04", '#' -> "}\x03", '}' -> "}]", '*' -> "}\x0a"
  CHECK(encode_packet("a$b#c}d*e", false) == frame("a}\x04"
                                                   "b}\x03"
                                                   "c}]d}\x0a"
                                                   "e"));
  CHECK(encode_packet("a$b#c}d*e") == frame("a}\x04"
                                            "b}\x03"
                                            "c}]d}\x0a"
                                            "e"));
  // Escaped bytes are never run-length encoded.
  CHECK(encode_packet("}}}}}") == frame("}]}]}]}]}]"));
  CHECK(encode_packet("****") == frame("}\x0a}\x0a}\x0a}\x0a"));
  // A run right after an escape still compresses (it repeats its own byte).
  CHECK(encode_packet("}]]]]]") == frame("}]]*!"));
}

TEST_CASE("encode_packet round-trips through FrameParser and gdb's decoder", "[framing]") {
  std::mt19937 rng(0x5ede6b6u);  // fixed seed: failures are reproducible
  std::uniform_int_distribution<int> len_dist(0, 400);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  std::uniform_int_distribution<int> mode_dist(0, 3);
  std::uniform_int_distribution<int> run_dist(1, 130);
  const std::string specials = "$#}*0 \x03+-";
  for (int iter = 0; iter < 2000; ++iter) {
    // Mix plain random bytes, special characters and long runs.
    std::string payload;
    const int len = len_dist(rng);
    while (static_cast<int>(payload.size()) < len) {
      switch (mode_dist(rng)) {
        case 0: payload.push_back(static_cast<char>(byte_dist(rng))); break;
        case 1: payload.push_back(specials[static_cast<std::size_t>(byte_dist(rng)) % specials.size()]); break;
        case 2: payload.append(static_cast<std::size_t>(run_dist(rng)), static_cast<char>(byte_dist(rng))); break;
        default:
          payload.append(static_cast<std::size_t>(run_dist(rng)),
                         specials[static_cast<std::size_t>(byte_dist(rng)) % specials.size()]);
          break;
      }
    }
    for (const bool rle : {true, false}) {
      INFO("iteration " << iter << " rle " << rle);
      const std::string wire = encode_packet(payload, rle);
      // Only the framing '$' and '#' appear raw on the wire.
      CHECK(wire.find('$', 1) == std::string::npos);
      CHECK(wire.find('#') == wire.size() - 3);
      if (!rle) CHECK(wire.find('*') == std::string::npos);
      CHECK(gdb_style_decode(wire) == payload);
      FrameParser whole;
      const auto evs = whole.feed(wire);
      REQUIRE(evs.size() == 1);
      const auto* pkt = std::get_if<PacketEvent>(&evs[0]);
      REQUIRE(pkt != nullptr);
      CHECK(pkt->payload == payload);
      // Same wire fed in random pieces.
      FrameParser pieces;
      std::vector<std::string> got;
      std::size_t pos = 0;
      while (pos < wire.size()) {
        const std::size_t n =
            std::min<std::size_t>(wire.size() - pos, static_cast<std::size_t>(run_dist(rng)) % 17 + 1);
        for (auto& s : describe_all(pieces.feed(std::string_view(wire).substr(pos, n)))) got.push_back(std::move(s));
        pos += n;
      }
      CHECK(got == std::vector<std::string>{"P:" + payload});
    }
  }
}

TEST_CASE("encode_packet output of a max-size payload fits the parser", "[framing]") {
  std::string payload(kMaxPacketSize, 'z');
  payload[100] = '$';
  FrameParser p;
  const auto evs = p.feed(encode_packet(payload));
  REQUIRE(evs.size() == 1);
  const auto* pkt = std::get_if<PacketEvent>(&evs[0]);
  REQUIRE(pkt != nullptr);
  CHECK(pkt->payload == payload);
}
