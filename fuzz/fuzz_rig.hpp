// What the session-level fuzz targets share: the production Session over
// GuestTarget + SimBackend (as tests/wire/ drives it, with no sockets), a
// configuration chosen by one input byte, and the checks every byte the stub
// sends must pass.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gdbstub/framing.hpp"
#include "gdbstub/session.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"

namespace svedbg::fuzz {

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

// One byte picks the guest and the options, so the fuzzer explores them all:
//   bits 0-1  --tdesc-vl: 0 max (default), 1 effective, 2 fixed (the smallest
//             enabled VL), 3 max
//   bit  2    replies without run-length encoding
//   bit  3    --allow-sysreg-writes
//   bits 4-5  guest: 0 the documented fixture (4 vCPUs, VL 2048/512/128/256),
//             1 one vCPU at 128 bits, 2 two vCPUs of which the second has no
//             SVE, 3 three vCPUs with max VL 512
// Byte 0x00 is the production default: `svedbg serve --sim`.
inline introspect::SimConfig sim_config(unsigned guest) {
  introspect::SimConfig cfg;
  // 8 KiB (the NOP page and one page of the o mod 251 pattern) instead of
  // 1 MiB: filling RAM dominates the cost of an input otherwise.
  cfg.ram_size = 0x2000;
  switch (guest & 3) {
    case 0: break;
    case 1:
      cfg.vcpus = 1;
      cfg.max_vq = 1;
      cfg.effective_vq = {1};
      break;
    case 2:
      cfg.vcpus = 2;
      cfg.sve = {true, false};
      cfg.effective_vq = {4};
      break;
    case 3:
      cfg.vcpus = 3;
      cfg.max_vq = 4;
      cfg.effective_vq = {1, 2, 4};
      break;
  }
  return cfg;
}

// The simulated guest of variant `guest`, exactly as its constructor leaves
// it. Each variant is constructed once per process (a SimBackend starts
// and, when destroyed, joins its runner thread: with ASan that cost most of
// an input's time) and handed out again after kill(), which by
// SimBackend's contract returns registers, RAM, debug state, the VMM-exit
// flag and the run state to what the constructor produced (stopped, no
// pending stop). kill() happens at the start of every input, under the
// sim's lock, so nothing an earlier input did, including leaving the guest
// running on the runner thread, reaches the next one: a reproducer run
// alone sees the same guest as it did inside a campaign.
inline introspect::SimBackend& fresh_sim(unsigned guest) {
  static std::array<std::unique_ptr<introspect::SimBackend>, 4> sims;
  auto& sim = sims[guest & 3];
  if (sim) {
    sim->kill();
  } else {
    sim = std::make_unique<introspect::SimBackend>(sim_config(guest));
  }
  FUZZ_CHECK(!sim->running());
  return *sim;
}

// The production stack for one input: a GuestTarget and a Session built
// afresh (both are cheap; building them is part of what is tested) over
// the pooled simulated guest.
struct Rig {
  explicit Rig(std::uint8_t config) : sim(fresh_sim((config >> 4) & 3)) {
    introspect::GuestOptions opts;
    switch (config & 3) {
      case 1: opts.tdesc.mode = introspect::TdescVl::Mode::Effective; break;
      case 2: opts.tdesc = {introspect::TdescVl::Mode::Fixed, 1}; break;
      default: break;
    }
    opts.allow_sysreg_writes = (config & 8) != 0;
    auto t = introspect::GuestTarget::create(sim, opts);
    FUZZ_CHECK(static_cast<bool>(t));  // every configuration above is valid
    target = std::move(*t);
    FUZZ_CHECK(static_cast<bool>(target->attach()));
    session = std::make_unique<gdbstub::Session>(*target, gdbstub::SessionOptions{(config & 4) == 0});
  }
  // A guest left running (`c`, `D`) would keep the sim's runner thread
  // executing until the next input's kill(), using CPU meanwhile (the fuzzer
  // mutates and scores between inputs). Stopping it here changes nothing
  // the next input sees.
  ~Rig() { sim.interrupt(); }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  introspect::SimBackend& sim;
  std::unique_ptr<introspect::GuestTarget> target;
  std::unique_ptr<gdbstub::Session> session;
};

// The checker below is the harness's own reading of the protocol (GDB
// manual, Remote Protocol > Overview), independent of FrameParser, and is
// compiled without coverage hooks: it runs over every byte the stub sends
// (a `g` at VL 2048 is ~18 KiB), and instrumented it cost a third of each
// input and fed the fuzzer features of the checker rather than of svedbg.
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

FUZZ_NO_COVERAGE inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Checks one packet body (between '$' and '#'): a '}' escape is followed by
// a byte, a '*' follows a decoded byte and its count character is 32..126
// and not '#' or '$', there is no raw '$', and the decoded payload fits the
// PacketSize the stub advertises. Adds the raw bytes to `sum` and returns
// the decoded size; writes the decoded bytes to `decoded` unless it is null
// (the caller sized it with a first pass). Plain loops, no std::string
// calls: those would be instrumented out of line.
FUZZ_NO_COVERAGE inline std::size_t check_packet_body(std::string_view body, unsigned& sum, char* decoded) {
  std::size_t n = 0;
  char previous = 0;
  for (std::size_t k = 0; k < body.size(); ++k) {
    const char b = body[k];
    sum += static_cast<unsigned char>(b);
    FUZZ_CHECK(b != '$');
    std::size_t count = 1;
    char value = b;
    if (b == '}') {
      FUZZ_CHECK(k + 1 < body.size());  // an escape cut off by '#'
      const char e = body[++k];
      FUZZ_CHECK(e != '$');
      sum += static_cast<unsigned char>(e);
      value = static_cast<char>(e ^ 0x20);
    } else if (b == '*') {
      FUZZ_CHECK(n > 0 && k + 1 < body.size());  // repeats a decoded byte
      const auto c = static_cast<unsigned char>(body[++k]);
      sum += c;
      FUZZ_CHECK(c >= 32 && c <= 126 && c != '#' && c != '$');
      count = c - 29u;
      value = previous;
    }
    FUZZ_CHECK(n + count <= gdbstub::kMaxPacketSize);
    if (decoded != nullptr)
      for (std::size_t r = 0; r < count; ++r) decoded[n + r] = value;
    n += count;
    previous = value;
  }
  return n;
}

// Checks that what the stub sent is a well-formed reply stream: only '+',
// '-' and whole `$...#xx` packets with correct checksums and valid
// encoding (check_packet_body), none whose raw body or decoded payload
// exceeds the advertised PacketSize. With `payloads`, appends each decoded
// packet payload to it.
FUZZ_NO_COVERAGE inline void check_stub_stream(std::string_view out, std::vector<std::string>* payloads) {
  std::size_t i = 0;
  while (i < out.size()) {
    const char c = out[i];
    if (c == '+' || c == '-') {
      ++i;
      continue;
    }
    FUZZ_CHECK(c == '$');
    const std::size_t hash = out.find('#', i + 1);
    FUZZ_CHECK(hash != std::string_view::npos && hash + 2 < out.size());
    const std::string_view body = out.substr(i + 1, hash - i - 1);
    if (body.size() > gdbstub::kMaxPacketSize) {
      std::fprintf(stderr, "fuzz: reply of %zu raw bytes exceeds PacketSize %zu: %.80s...\n", body.size(),
                   gdbstub::kMaxPacketSize, out.data() + i);
      std::abort();
    }
    const int high = hex_digit(out[hash + 1]);
    const int low = hex_digit(out[hash + 2]);
    FUZZ_CHECK(high >= 0 && low >= 0);
    unsigned sum = 0;
    const std::size_t size = check_packet_body(body, sum, nullptr);
    FUZZ_CHECK((sum & 0xff) == static_cast<unsigned>(16 * high + low));  // the checksum is right
    if (payloads != nullptr) {
      std::string payload(size, '\0');
      unsigned again = 0;
      check_packet_body(body, again, payload.data());
      payloads->push_back(std::move(payload));
    }
    i = hash + 3;
  }
}

// The packet payloads in what the stub sent, after check_stub_stream.
inline std::vector<std::string> check_stub_output(std::string_view out) {
  std::vector<std::string> payloads;
  check_stub_stream(out, &payloads);
  return payloads;
}

}  // namespace svedbg::fuzz
