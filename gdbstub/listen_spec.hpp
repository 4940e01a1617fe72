// gdbstub::ListenSpec: where a Server listens, as given on the command line.
//
// Contract: parse_listen_spec() accepts "HOST:PORT", ":PORT", "PORT" (host
// 127.0.0.1), "[V6]:PORT" and "unix:PATH"; HOST must be a numeric IPv4 or
// IPv6 address (an IPv6 one may carry a %scope, as Asio's make_address
// takes it; no name lookup), PORT 0..65535 (0: any free port), PATH shorter
// than sockaddr_un's sun_path. Errors name the text and what was expected.
// to_string() is the form printed in banners and logs ("unix:PATH",
// "HOST:PORT", "[V6]:PORT"). Pure: no sockets, no Asio (transport.cpp is
// the only file that includes Asio).
#pragma once

#include <string>

#include "common/result.hpp"

namespace svedbg::gdbstub {

struct ListenSpec {
  enum class Kind { Tcp, Unix } kind = Kind::Tcp;
  std::string host = "127.0.0.1";
  unsigned short port = 1234;
  std::string path;  // for Unix
  std::string to_string() const;
  // Unix sockets and 127.0.0.0/8, ::1 (an unparsable host counts as not).
  bool is_loopback() const;
};

// "HOST:PORT", ":PORT", "PORT", "unix:PATH", "[::1]:PORT".
Result<ListenSpec> parse_listen_spec(const std::string& text);

}  // namespace svedbg::gdbstub
