// libFuzzer target: gdbstub::FrameParser on arbitrary bytes.
//
// Checks, for every input:
//  * feed() never crashes and keeps its promises (max_payload respected);
//  * the events do not depend on how the stream is split: the whole input
//    at once, split at a point derived from the data, and byte by byte all
//    give the same events (also with a small max_payload, for Overlong);
//  * decode(encode(x)) == x for the input as a payload, with and without
//    run-length encoding, also when the encoded frame arrives in two pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gdbstub/framing.hpp"

using namespace svedbg::gdbstub;

namespace {

#define FUZZ_CHECK(cond)                                                                                \
  do {                                                                                                  \
    if (!(cond)) {                                                                                      \
      __builtin_fprintf(stderr, "fuzz_framing: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                                     \
    }                                                                                                   \
  } while (0)

bool same(const FrameEvent& a, const FrameEvent& b) {
  if (a.index() != b.index()) return false;
  if (auto* pa = std::get_if<PacketEvent>(&a)) return pa->payload == std::get<PacketEvent>(b).payload;
  if (auto* ea = std::get_if<FramingError>(&a)) {
    const auto& eb = std::get<FramingError>(b);
    return ea->kind == eb.kind && ea->detail == eb.detail;
  }
  return true;
}

bool same(const std::vector<FrameEvent>& a, const std::vector<FrameEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

void append(std::vector<FrameEvent>& to, std::vector<FrameEvent> from) {
  for (auto& e : from) to.push_back(std::move(e));
}

// The same stream fed three ways must give the same events.
void check_split_invariance(std::string_view stream, std::size_t split, std::size_t max_payload) {
  FrameParser whole(max_payload);
  auto a = whole.feed(stream);

  FrameParser two(max_payload);
  auto b = two.feed(stream.substr(0, split));
  append(b, two.feed(stream.substr(split)));
  append(b, two.feed({}));  // an empty feed completes nothing

  FrameParser bytes(max_payload);
  std::vector<FrameEvent> c;
  for (std::size_t i = 0; i < stream.size(); ++i) append(c, bytes.feed(stream.substr(i, 1)));

  FUZZ_CHECK(same(a, b));
  FUZZ_CHECK(same(a, c));
  for (const auto& e : a)
    if (auto* p = std::get_if<PacketEvent>(&e)) FUZZ_CHECK(p->payload.size() <= max_payload);
}

void check_round_trip(std::string_view payload, std::size_t split, bool run_length) {
  const std::string framed = encode_packet(payload, run_length);
  FUZZ_CHECK(framed.size() >= 4 && framed.front() == '$' && framed[framed.size() - 3] == '#');
  FrameParser p(payload.size() + 1);
  auto events = p.feed(std::string_view(framed).substr(0, split % (framed.size() + 1)));
  append(events, p.feed(std::string_view(framed).substr(split % (framed.size() + 1))));
  FUZZ_CHECK(events.size() == 1);
  const auto* packet = std::get_if<PacketEvent>(&events[0]);
  FUZZ_CHECK(packet != nullptr);
  FUZZ_CHECK(packet->payload == payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The split point comes from the data: the first byte as a fraction of
  // the length, so both short and long prefixes get exercised.
  const std::size_t split = size == 0 ? 0 : (static_cast<std::size_t>(data[0]) * size) / 255;

  check_split_invariance(input, split, kMaxPacketSize);
  check_split_invariance(input, split, 16);  // small limit: Overlong paths

  check_round_trip(input, split, true);
  check_round_trip(input, split, false);
  return 0;
}
