// Boost.Asio 1.74 C++20 coroutines. <utility> must precede the awaitable
// header with g++ 12 (std::exchange is used there without the include).
#include <utility>

#include "gdbstub/transport.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <deque>
#include <system_error>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "gdbstub/framing.hpp"

namespace svedbg::gdbstub {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

std::string ListenSpec::to_string() const {
  if (kind == Kind::Unix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool ListenSpec::is_loopback() const {
  if (kind == Kind::Unix) return true;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

Result<ListenSpec> parse_listen_spec(const std::string& text) {
  ListenSpec spec;
  if (text.rfind("unix:", 0) == 0) {
    spec.kind = ListenSpec::Kind::Unix;
    spec.path = text.substr(5);
    if (spec.path.empty()) return make_error(EINVAL, "--listen unix:PATH needs a path");
    if (spec.path.size() >= sizeof(sockaddr_un{}.sun_path))
      return make_error(ENAMETOOLONG, "unix socket path too long: {}", spec.path);
    return spec;
  }
  std::string host = spec.host, port = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(EINVAL, "bad listen address '{}': expected [HOST]:PORT", text);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) host = spec.host;
  }
  unsigned long value = 0;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      (value = std::stoul(port)) > 65535)
    return make_error(EINVAL, "bad listen address '{}': expected HOST:PORT or unix:PATH", text);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return make_error(EINVAL, "bad listen address '{}': '{}' is not an IP address", text, host);
  spec.host = host;
  spec.port = static_cast<unsigned short>(value);
  return spec;
}

namespace {

// Replies waiting for a slow client: 8 of the largest replies (PacketSize).
constexpr std::size_t kMaxPendingOutput = 8 * 2 * kMaxPacketSize;

constexpr const char* kBusyMessage = "E.svedbg: another gdb client is already connected (one client at a time)";

// The end of the log line for a client that hung up without `D`.
const char* describe(Detached d) {
  switch (d) {
    case Detached::Resumed: return "guest resumed";
    case Detached::GuestGone: return "the guest had exited";
    case Detached::NeverRuns: return "nothing to resume (the target never runs)";
  }
  return "guest resumed";
}

// One client: a reader coroutine feeding the Session, and a write queue so
// replies from the reader and stop notifications from the target never
// interleave on the socket.
template <typename Socket>
class Connection : public std::enable_shared_from_this<Connection<Socket>> {
 public:
  Connection(Socket socket, Target& target, SessionOptions options)
      : socket_(std::move(socket)), session_(target, options) {}

  awaitable<void> run() {
    auto self = this->shared_from_this();
    std::array<char, 16384> buf{};
    try {
      while (!session_.closed()) {
        std::size_t n = co_await socket_.async_read_some(asio::buffer(buf), use_awaitable);
        send(session_.feed(std::string_view(buf.data(), n)));
      }
      // Flush the last reply (e.g. "OK" to D) before hanging up.
      while (writing_) {
        boost::system::error_code ec;
        co_await drained_.async_wait(asio::redirect_error(use_awaitable, ec));
      }
    } catch (const std::exception&) {
      // EOF or reset: the client dropped; the server detaches the target.
    }
    boost::system::error_code ec;
    socket_.shutdown(Socket::shutdown_both, ec);
    socket_.close(ec);
  }

  void on_stop_notification() { send(session_.poll_stop()); }
  bool closed_by_client() const { return session_.closed(); }
  bool overflowed() const { return overflowed_; }

 private:
  void send(std::string bytes) {
    if (bytes.empty() || overflowed_) return;
    // A client that keeps sending but never reads would make the queue grow
    // without bound: past the limit it is disconnected instead.
    queued_bytes_ += bytes.size();
    if (queued_bytes_ > kMaxPendingOutput) {
      overflowed_ = true;
      queue_.clear();
      boost::system::error_code ec;
      socket_.close(ec);
      return;
    }
    queue_.push_back(std::move(bytes));
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(socket_.get_executor(), writer(this->shared_from_this()), asio::detached);
  }

  awaitable<void> writer([[maybe_unused]] std::shared_ptr<Connection> keep_alive) {
    try {
      while (!queue_.empty()) {
        std::string bytes = std::move(queue_.front());
        queue_.pop_front();
        co_await asio::async_write(socket_, asio::buffer(bytes), use_awaitable);
        queued_bytes_ -= std::min(queued_bytes_, bytes.size());
      }
    } catch (const std::exception&) {
      queue_.clear();
      boost::system::error_code ec;
      socket_.close(ec);
    }
    writing_ = false;
    drained_.cancel();
  }

  Socket socket_;
  Session session_;
  // Never expires; the writer cancels it each time the queue drains.
  asio::steady_timer drained_{socket_.get_executor(), asio::steady_timer::time_point::max()};
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool overflowed_ = false;
  bool writing_ = false;
};

}  // namespace

struct Server::Impl {
  Impl(Target& t, SessionOptions o) : target(t), options(o) {}

  Target& target;
  SessionOptions options;
  asio::io_context io;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<unix_stream::acceptor> unix_acceptor;
  ListenSpec bound;
  bool busy = false;
  std::function<void(const std::string&)> log = [](const std::string& m) {
    std::fprintf(stderr, "svedbg: %s\n", m.c_str());
  };

  template <typename Socket>
  awaitable<void> refuse(Socket socket) {
    // Tell the second client why. gdb 13 prints an "E.text" reply to its
    // first packets as "warning: Remote failure reply: E.text" and then
    // gives up on the connection ("Remote replied unexpectedly to
    // 'vMustReplyEmpty'"), so answer every packet that way for a few
    // seconds, then hang up.
    asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(5));
    deadline.async_wait([&socket](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
    try {
      FrameParser parser;
      const std::string reply = "+" + encode_packet(kBusyMessage, false);
      std::array<char, 4096> buf{};
      for (unsigned answered = 0; answered < 4;) {
        std::size_t n = co_await socket.async_read_some(asio::buffer(buf), use_awaitable);
        for (const auto& ev : parser.feed(std::string_view(buf.data(), n))) {
          if (!std::holds_alternative<PacketEvent>(ev)) continue;
          co_await asio::async_write(socket, asio::buffer(reply), use_awaitable);
          ++answered;
        }
      }
    } catch (const std::exception&) {}
    deadline.cancel();
    boost::system::error_code ec;
    socket.close(ec);
  }

  template <typename Socket>
  awaitable<void> serve(Socket socket, std::string peer) {
    busy = true;
    log(fmt::format("client {} connected", peer));
    auto st = target.attach();
    if (!st) log(fmt::format("attach: {}", st.error().message));
    auto conn = std::make_shared<Connection<Socket>>(std::move(socket), target, options);
    std::weak_ptr<Connection<Socket>> weak = conn;
    auto executor = io.get_executor();
    target.set_stop_notifier([weak, executor] {
      asio::post(executor, [weak] {
        if (auto c = weak.lock()) c->on_stop_notification();
      });
    });
    co_await conn->run();
    target.set_stop_notifier({});
    if (conn->overflowed())
      log(fmt::format("client {} stopped reading replies (over {} bytes pending): disconnected", peer,
                      kMaxPendingOutput));
    if (!conn->closed_by_client()) {
      // Dropped without `D`: leave the guest as it was before gdb came. gdb
      // hangs up this way after an X stop reply too (`target remote` forgets
      // a process that exited), and then there is nothing left to resume.
      log(fmt::format("client {} dropped; {}", peer, describe(target.detach())));
    } else {
      log(fmt::format("client {} finished", peer));
    }
    busy = false;
  }

  template <typename Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor) {
    for (;;) {
      auto socket = co_await acceptor.async_accept(use_awaitable);
      no_delay(socket);
      std::string peer = peer_name(socket);
      if (busy) {
        log(fmt::format("refusing {}: a client is already connected", peer));
        asio::co_spawn(io, refuse(std::move(socket)), asio::detached);
        continue;
      }
      asio::co_spawn(io, serve(std::move(socket), peer), asio::detached);
    }
  }

  static std::string peer_name(tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string("?") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }
  static std::string peer_name(unix_stream::socket&) { return "unix"; }
  // Replies are small and each one ends an exchange the client waits on:
  // send them at once rather than letting Nagle hold a reply back until the
  // previous segment is acknowledged (gdbserver sets TCP_NODELAY too).
  static void no_delay(tcp::socket& s) {
    boost::system::error_code ec;
    s.set_option(tcp::no_delay(true), ec);
  }
  static void no_delay(unix_stream::socket&) {}
};

Server::Server(Target& target, SessionOptions options) : impl_(std::make_unique<Impl>(target, options)) {}

Server::~Server() {
  if (impl_->unix_acceptor) ::unlink(impl_->bound.path.c_str());
}

const ListenSpec& Server::bound() const { return impl_->bound; }

void Server::set_logger(std::function<void(const std::string&)> log) { impl_->log = std::move(log); }

Status Server::listen(const ListenSpec& spec) {
  boost::system::error_code ec;
  if (spec.kind == ListenSpec::Kind::Tcp) {
    tcp::endpoint ep(asio::ip::make_address(spec.host, ec), spec.port);
    if (ec) return make_error(EINVAL, "bad address {}: {}", spec.host, ec.message());
    auto& acc = impl_->tcp_acceptor.emplace(impl_->io);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      impl_->tcp_acceptor.reset();
      return make_error(ec.value(), "cannot listen on {}: {}", spec.to_string(), ec.message());
    }
    impl_->bound = spec;
    impl_->bound.port = acc.local_endpoint().port();
    return {};
  }
  // Unix socket. A leftover socket file from a dead daemon is replaced; one
  // that still accepts connections belongs to a live daemon: refuse.
  struct stat sb {};
  if (::lstat(spec.path.c_str(), &sb) == 0) {
    if (!S_ISSOCK(sb.st_mode))
      return make_error(EEXIST, "cannot listen on {}: path exists and is not a socket", spec.path);
    unix_stream::socket probe(impl_->io);
    probe.connect(unix_stream::endpoint(spec.path), ec);
    if (!ec) return make_error(EADDRINUSE, "cannot listen on {}: another daemon is serving it", spec.path);
    ::unlink(spec.path.c_str());
  }
  auto& acc = impl_->unix_acceptor.emplace(impl_->io);
  acc.open(unix_stream(), ec);
  if (!ec) {
    // Create the socket file 0600 atomically: only its owner may debug the guest.
    mode_t old = ::umask(0177);
    acc.bind(unix_stream::endpoint(spec.path), ec);
    ::umask(old);
  }
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->unix_acceptor.reset();
    return make_error(ec.value(), "cannot listen on {}: {}", spec.to_string(), ec.message());
  }
  impl_->bound = spec;
  return {};
}

void Server::run() {
  auto& im = *impl_;
  asio::signal_set signals(im.io, SIGINT, SIGTERM);
  signals.async_wait([&im](boost::system::error_code ec, int) {
    if (!ec) im.io.stop();
  });
  if (im.tcp_acceptor) asio::co_spawn(im.io, im.accept_loop(*im.tcp_acceptor), asio::detached);
  if (im.unix_acceptor) asio::co_spawn(im.io, im.accept_loop(*im.unix_acceptor), asio::detached);
  im.io.run();
  // Leaving: a client still attached gets its guest back as it was.
  if (im.busy) im.target.detach();
}

void Server::stop() { impl_->io.stop(); }

}  // namespace svedbg::gdbstub
