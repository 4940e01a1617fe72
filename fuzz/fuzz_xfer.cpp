// libFuzzer target: qXfer:features:read and qXfer:threads:read with
// arbitrary annex, offset and length, through the production Session.
//
// Oracle: a chunk is 'm'/'l' + exactly document[offset, offset + n) with
// n <= length, 'l' iff it reaches the end; an offset past the end is an
// `Exx`; an unknown annex is an `Exx` (features) or unsupported (threads).
// Then the whole document is read in chunks of the fuzzed length, as gdb
// does, and must come back byte for byte in a bounded number of requests.
// Every reply must also fit the advertised PacketSize (fuzz_rig.hpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_rig.hpp"

using namespace svedbg;

namespace {

// Sends one qXfer read and returns the single reply payload.
std::string xfer(fuzz::Rig& rig, const std::string& object, const std::string& annex, std::uint64_t offset,
                 std::uint64_t length) {
  std::string packet = fmt::format("qXfer:{}:read:{}:{:x},{:x}", object, annex, offset, length);
  auto replies = fuzz::check_stub_output(rig.session->feed(gdbstub::encode_packet(packet)));
  FUZZ_CHECK(replies.size() == 1);
  return replies[0];
}

// The oracle for one chunk of `doc`.
void check_chunk(const std::string& reply, const std::string& doc, std::uint64_t offset, std::uint64_t length) {
  if (offset > doc.size()) {
    FUZZ_CHECK(!reply.empty() && reply[0] == 'E');
    return;
  }
  FUZZ_CHECK(!reply.empty() && (reply[0] == 'm' || reply[0] == 'l'));
  const std::string data = reply.substr(1);
  FUZZ_CHECK(data.size() <= length);
  FUZZ_CHECK(doc.compare(offset, data.size(), data) == 0);
  FUZZ_CHECK((reply[0] == 'l') == (offset + data.size() == doc.size()));
  // Progress for any real request, or gdb's read loop never ends.
  if (reply[0] == 'm' && length > 0) FUZZ_CHECK(!data.empty());
}

std::uint64_t pick_u64(FuzzedDataProvider& in, std::uint64_t document_size) {
  // Mostly near the document's size, sometimes anything at all.
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return in.ConsumeIntegral<std::uint64_t>();
    case 1: return in.ConsumeIntegralInRange<std::uint64_t>(0, 2 * gdbstub::kMaxPacketSize);
    default: return in.ConsumeIntegralInRange<std::uint64_t>(0, document_size + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  fuzz::Rig rig(in.ConsumeIntegral<std::uint8_t>());
  const bool threads = in.ConsumeBool();
  const bool known_annex = in.ConsumeBool();

  // What the document should be, straight from the target (threads: from
  // a full read through the session at offset 0 with a large length).
  std::string annex;
  std::string doc;
  bool exists = true;
  if (threads) {
    annex = known_annex ? "" : in.ConsumeRandomLengthString(64);
    exists = annex.empty();
    if (exists) {
      std::string whole = xfer(rig, "threads", "", 0, gdbstub::kMaxPacketSize);
      FUZZ_CHECK(!whole.empty() && whole[0] == 'l');
      doc = whole.substr(1);
    }
  } else {
    annex = known_annex ? "target.xml" : in.ConsumeRandomLengthString(64);
    auto d = rig.target->features_document(annex);
    exists = static_cast<bool>(d);
    if (exists) doc = *d;
  }
  const std::string object = threads ? "threads" : "features";

  const std::uint64_t offset = pick_u64(in, doc.size());
  const std::uint64_t length = pick_u64(in, doc.size());
  const std::string reply = xfer(rig, object, annex, offset, length);
  if (!exists) {
    FUZZ_CHECK(threads ? reply.empty() || reply[0] == 'E' : !reply.empty() && reply[0] == 'E');
    return 0;
  }
  check_chunk(reply, doc, offset, length);

  // gdb's loop: read from 0 in chunks of `length` until 'l'. Each 'm' is
  // non-empty, so this ends; skip it when it would take many requests.
  if (length == 0 || doc.size() / length > 8) return 0;
  std::string assembled;
  for (;;) {
    const std::string r = xfer(rig, object, annex, assembled.size(), length);
    check_chunk(r, doc, assembled.size(), length);
    assembled += r.substr(1);
    if (r[0] == 'l') break;
  }
  FUZZ_CHECK(assembled == doc);
  return 0;
}
