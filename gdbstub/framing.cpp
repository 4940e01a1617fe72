#include "gdbstub/framing.hpp"

#include <utility>

#include <fmt/format.h>

#include "gdbstub/hex.hpp"

namespace svedbg::gdbstub {

namespace {

constexpr unsigned char kInterrupt = 0x03;
constexpr unsigned char kEscapeXor = 0x20;
// Run-length count characters: the repeat count is n - 29, n in 32..126.
constexpr unsigned kRunCountBias = 29;
constexpr unsigned char kMinRunCountChar = 32;   // ' ': 3 more, 4 in all
constexpr unsigned char kMaxRunCountChar = 126;  // '~': 97 more, 98 in all

bool must_escape(char c) { return c == '$' || c == '#' || c == '}' || c == '*'; }

}  // namespace

FrameParser::FrameParser(std::size_t max_payload) : max_payload_(max_payload) {}

void FrameParser::start_packet() {
  state_ = State::Body;
  payload_.clear();
  decoded_size_ = 0;
  previous_ = 0;
  raw_sum_ = 0;
  escape_pending_ = false;
  repeat_pending_ = false;
  failed_ = false;
  error_ = FramingError{};
}

void FrameParser::fail(FramingErrorKind kind, std::string detail) {
  if (failed_) return;  // keep the first error; the rest is consumed blindly
  failed_ = true;
  error_ = FramingError{kind, std::move(detail)};
}

void FrameParser::append_decoded(char c) {
  previous_ = c;
  if (decoded_size_ >= max_payload_) {
    fail(FramingErrorKind::Overlong, fmt::format("packet payload exceeds {} bytes", max_payload_));
    return;
  }
  payload_.push_back(c);
  ++decoded_size_;
}

void FrameParser::body_byte(unsigned char c) {
  raw_sum_ = static_cast<std::uint8_t>(raw_sum_ + c);
  if (failed_) return;
  if (repeat_pending_) {
    repeat_pending_ = false;
    if (c < kMinRunCountChar || c > kMaxRunCountChar) {
      fail(FramingErrorKind::BadRunLength, fmt::format("run-length count byte 0x{:02x} outside 32..126", c));
      return;
    }
    for (unsigned i = 0; i < c - kRunCountBias && !failed_; ++i) append_decoded(previous_);
    return;
  }
  if (escape_pending_) {
    escape_pending_ = false;
    append_decoded(static_cast<char>(c ^ kEscapeXor));
    return;
  }
  if (c == '}') {
    escape_pending_ = true;
  } else if (c == '*') {
    if (decoded_size_ == 0) {
      fail(FramingErrorKind::BadRunLength, "run-length '*' with no previous byte");
      return;
    }
    repeat_pending_ = true;
  } else {
    append_decoded(static_cast<char>(c));
  }
}

void FrameParser::finish_packet(unsigned char low_digit, std::vector<FrameEvent>& out) {
  state_ = State::Idle;
  const int hi = hex_digit_value(static_cast<char>(checksum_high_));
  const int lo = hex_digit_value(static_cast<char>(low_digit));
  if (hi < 0 || lo < 0) {
    out.emplace_back(
        FramingError{FramingErrorKind::BadChecksum,
                     fmt::format("checksum bytes 0x{:02x} 0x{:02x} are not hex", checksum_high_, low_digit)});
  } else if (static_cast<unsigned>((hi << 4) | lo) != raw_sum_) {
    out.emplace_back(FramingError{
        FramingErrorKind::BadChecksum,
        fmt::format("checksum mismatch: packet says {:02x}, body sums to {:02x}", (hi << 4) | lo, raw_sum_)});
  } else if (failed_) {
    out.emplace_back(std::move(error_));
  } else {
    out.emplace_back(PacketEvent{std::move(payload_)});
  }
  payload_.clear();
  failed_ = false;
  error_ = FramingError{};
}

std::vector<FrameEvent> FrameParser::feed(std::string_view bytes) {
  std::vector<FrameEvent> out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::Idle:
        if (c == '$') {
          start_packet();
        } else if (c == '+') {
          out.emplace_back(AckEvent{});
        } else if (c == '-') {
          out.emplace_back(NackEvent{});
        } else if (c == kInterrupt) {
          out.emplace_back(InterruptEvent{});
        }
        break;  // anything else outside a packet is line noise
      case State::Body:
        if (c == '$') {
          start_packet();
        } else if (c == '#') {
          if (escape_pending_) {
            fail(FramingErrorKind::BadRunLength, "packet ends inside a '}' escape");
          } else if (repeat_pending_) {
            fail(FramingErrorKind::BadRunLength, "packet ends after '*' without a count");
          }
          state_ = State::ChecksumHigh;
        } else {
          body_byte(c);
        }
        break;
      case State::ChecksumHigh:
        if (c == '$') {
          start_packet();
        } else {
          checksum_high_ = c;
          state_ = State::ChecksumLow;
        }
        break;
      case State::ChecksumLow:
        if (c == '$') {
          start_packet();
        } else {
          finish_packet(c, out);
        }
        break;
    }
  }
  return out;
}

std::string encode_packet(std::string_view payload, bool run_length) {
  // Longest run one '*' can carry, and the two totals whose count character
  // would be '#' or '$' (Overview, "Run-length encoding").
  constexpr std::size_t kMaxRun = kMaxRunCountChar - kRunCountBias + 1;  // 98
  constexpr std::size_t kRunGivingHash = '#' - kRunCountBias + 1;        // 7
  constexpr std::size_t kRunGivingDollar = '$' - kRunCountBias + 1;      // 8
  constexpr std::size_t kMinRun = kMinRunCountChar - kRunCountBias + 1;  // 4

  // One pass into a buffer sized for the worst case (every byte escaped),
  // summing the checksum as bytes are emitted: this is the hot path of every
  // reply (a `g` at VL 2048 is ~18 KiB of hex).
  std::string out;
  out.resize(2 * payload.size() + 4);
  char* const begin = out.data();
  char* w = begin;
  unsigned sum = 0;
  auto emit = [&](char ch) {
    *w++ = ch;
    sum += static_cast<unsigned char>(ch);
  };
  *w++ = '$';
  std::size_t i = 0;
  while (i < payload.size()) {
    const char c = payload[i];
    if (must_escape(c)) {
      emit('}');
      emit(static_cast<char>(static_cast<unsigned char>(c) ^ kEscapeXor));
      ++i;
      continue;
    }
    std::size_t run = 1;
    if (run_length) {
      while (i + run < payload.size() && payload[i + run] == c && run < kMaxRun) ++run;
    }
    if (run >= kMinRun) {
      if (run == kRunGivingHash || run == kRunGivingDollar) run = kRunGivingHash - 1;
      emit(c);
      emit('*');
      emit(static_cast<char>(run - 1 + kRunCountBias));
    } else {
      for (std::size_t k = 0; k < run; ++k) emit(c);
    }
    i += run;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  *w++ = '#';
  *w++ = kHex[(sum >> 4) & 0xf];
  *w++ = kHex[sum & 0xf];
  out.resize(static_cast<std::size_t>(w - begin));
  return out;
}

}  // namespace svedbg::gdbstub
