// What the session-level fuzz targets share: the production Session over
// GuestTarget + SimBackend (as tests/wire/ drives it, with no sockets), a
// configuration chosen by one input byte, and the checks every byte the stub
// sends must pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gdbstub/framing.hpp"
#include "gdbstub/session.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim_backend.hpp"

namespace svedbg::fuzz {

#define FUZZ_CHECK(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);    \
      std::abort();                                                                           \
    }                                                                                         \
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
struct Rig {
  explicit Rig(std::uint8_t config) {
    introspect::SimConfig cfg;
    // 8 KiB (the NOP page and one page of the o mod 251 pattern) instead of
    // 1 MiB: filling RAM dominates the cost of an input otherwise.
    cfg.ram_size = 0x2000;
    switch ((config >> 4) & 3) {
      case 0: break;
      case 1: cfg.vcpus = 1; cfg.max_vq = 1; cfg.effective_vq = {1}; break;
      case 2: cfg.vcpus = 2; cfg.sve = {true, false}; cfg.effective_vq = {4}; break;
      case 3: cfg.vcpus = 3; cfg.max_vq = 4; cfg.effective_vq = {1, 2, 4}; break;
    }
    introspect::GuestOptions opts;
    switch (config & 3) {
      case 1: opts.tdesc.mode = introspect::TdescVl::Mode::Effective; break;
      case 2: opts.tdesc = {introspect::TdescVl::Mode::Fixed, 1}; break;
      default: break;
    }
    opts.allow_sysreg_writes = (config & 8) != 0;
    sim = std::make_unique<introspect::SimBackend>(cfg);
    auto t = introspect::GuestTarget::create(*sim, opts);
    FUZZ_CHECK(static_cast<bool>(t));  // every configuration above is valid
    target = std::move(*t);
    FUZZ_CHECK(static_cast<bool>(target->attach()));
    session = std::make_unique<gdbstub::Session>(*target, gdbstub::SessionOptions{(config & 4) == 0});
  }

  std::unique_ptr<introspect::SimBackend> sim;
  std::unique_ptr<introspect::GuestTarget> target;
  std::unique_ptr<gdbstub::Session> session;
};

// The packet payloads in what the stub sent, after checking that it is a
// well-formed reply stream: only '+', '-' and whole `$...#xx` packets with
// correct checksums, none whose raw body or decoded payload exceeds the
// PacketSize the stub advertises in qSupported.
inline std::vector<std::string> check_stub_output(std::string_view out) {
  std::vector<std::string> payloads;
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
    const std::size_t raw_body = hash - i - 1;
    if (raw_body > gdbstub::kMaxPacketSize) {
      std::fprintf(stderr, "fuzz: reply of %zu raw bytes exceeds PacketSize %zu: %.80s...\n",
                   raw_body, gdbstub::kMaxPacketSize, out.data() + i);
      std::abort();
    }
    gdbstub::FrameParser parser(2 * gdbstub::kMaxPacketSize);
    auto events = parser.feed(out.substr(i, raw_body + 4));
    FUZZ_CHECK(events.size() == 1);
    const auto* packet = std::get_if<gdbstub::PacketEvent>(&events[0]);
    FUZZ_CHECK(packet != nullptr);  // checksum and encoding are valid
    FUZZ_CHECK(packet->payload.size() <= gdbstub::kMaxPacketSize);
    payloads.push_back(packet->payload);
    i = hash + 3;
  }
  return payloads;
}

}  // namespace svedbg::fuzz
