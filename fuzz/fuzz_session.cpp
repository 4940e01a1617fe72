// libFuzzer target: a whole gdb conversation with the simulated guest.
//
// Input: one configuration byte (fuzz_rig.hpp; 0x00 = `svedbg serve --sim`)
// then the raw bytes a client sends. They go through the production
// Session (framing, request parsing, the dispatch table, every handler) over
// GuestTarget + SimBackend, in pieces cut at each '$' after the first few
// bytes so stop notifications and partial packets are exercised too. The
// stub must never crash (ASan/UBSan), never hang (-timeout), and everything
// it sends must be a well-formed packet stream with no reply larger than
// the advertised PacketSize, and no feed() may hand out more than the
// session's output cap (kMaxPendingOutput), however many requests or NAKs a
// piece pipelines: what is left waits in the backlog, drained with feed("")
// as the transport does once the output was sent. Dictionary:
// fuzz_session.dict (packets, NAK runs, pipelined reads).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_rig.hpp"

using namespace svedbg;

namespace {

// One feed() and then the backlog, each output checked and capped.
void feed_checked(gdbstub::Session& session, std::string_view bytes) {
  std::string out = session.feed(bytes);
  for (unsigned rounds = 0;; ++rounds) {
    if (out.size() > gdbstub::kMaxPendingOutput) {
      std::fprintf(stderr, "fuzz: one feed() returned %zu bytes, over the cap %zu\n", out.size(),
                   gdbstub::kMaxPendingOutput);
      std::abort();
    }
    fuzz::check_stub_stream(out, nullptr);
    if (!session.backlogged()) return;
    FUZZ_CHECK(rounds < 100000);  // the backlog drains: each round handles at least one request
    out = session.feed({});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fuzz::Rig rig(data[0]);
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  // Feed packet by packet (each piece starts at a '$'), as a socket would
  // deliver a conversation, polling for a stop after each piece as the
  // transport does when the target signals one. Packets sent back to back
  // ("#xx$", pipelined, as no-ack mode allows) stay in one piece.
  while (!stream.empty() && !rig.session->closed()) {
    std::size_t next = stream.find('$', 1);
    while (next != std::string_view::npos && next >= 3 && stream[next - 3] == '#') next = stream.find('$', next + 1);
    if (next == std::string_view::npos) next = stream.size();
    feed_checked(*rig.session, stream.substr(0, next));
    fuzz::check_stub_stream(rig.session->poll_stop(), nullptr);
    stream.remove_prefix(next);
  }
  if (rig.session->running()) {
    // A running guest stops when interrupted, and the stub reports it. A
    // packet cut off at the end of the input would take the 0x03 as data:
    // "$#01" first ends it (a fresh packet with a bad checksum, ignored).
    feed_checked(*rig.session, "$#01\x03");
    if (!rig.session->closed()) FUZZ_CHECK(!rig.session->running());
  }
  return 0;
}
