// Boost.Asio 1.74 C++20 coroutines. <utility> must precede the awaitable
// header with g++ 12 (std::exchange is used there without the include).
#include <utility>

#include "gdbstub/transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

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

#include "common/unique_fd.hpp"
#include "gdbstub/connection_end.hpp"
#include "gdbstub/framing.hpp"
#include "gdbstub/listening_socket.hpp"
#include "gdbstub/log_limit.hpp"
#include "gdbstub/peer.hpp"

// g++ 12 at -O1 (the arm64 cross build) inlines Asio's coroutine frame
// allocator (awaitable_frame_base::operator new/delete over its thread-local
// recycling allocator) and then reports the frames of Connection::run and
// refuse as -Wmismatched-new-delete; both halves are Asio's own matching
// pair, a known false positive of GCC 12 with C++20 coroutines.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace svedbg::gdbstub {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kBusyMessage = "E.svedbg: another gdb client is already connected (one client at a time)";

// The peer of an accepted connection (peer.hpp).
Peer identify(unix_stream::socket& s) { return identify_unix_peer(s.native_handle()); }
Peer identify(tcp::socket& s) { return identify_tcp_peer(s.native_handle()); }

// TCP keep-alive: a silent peer is probed after 60 s, every 10 s, and given
// up after 6 unanswered probes (the read then fails with ETIMEDOUT).
void keep_alive(tcp::socket& s) {
  boost::system::error_code ec;
  s.set_option(tcp::socket::keep_alive(true), ec);
  const int idle = 60, interval = 10, count = 6;
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}
void keep_alive(unix_stream::socket&) {}

// One client: a reader coroutine feeding the Session, a write queue so
// replies from the reader and stop notifications from the target never
// interleave on the socket, and a watchdog for the time limits.
template <typename Socket>
class Connection : public std::enable_shared_from_this<Connection<Socket>> {
 public:
  Connection(Socket socket, Target& target, SessionOptions options, const ServerOptions& limits,
             std::function<void()> before_first_packet)
      : socket_(std::move(socket)), session_(target, options), limits_(limits) {
    session_.set_before_first_packet(std::move(before_first_packet));
  }
  // serve --multi: the session talks to its own ProcessSlot.
  Connection(Socket socket, std::unique_ptr<ProcessSlot> slot, SessionOptions options, const ServerOptions& limits)
      : socket_(std::move(socket)), slot_(std::move(slot)), session_(*slot_, options), limits_(limits) {
    session_.enable_multi(*slot_);
  }
  ProcessSlot* slot() { return slot_.get(); }

  awaitable<void> run() {
    auto self = this->shared_from_this();
    asio::co_spawn(socket_.get_executor(), watchdog(self), asio::detached);
    std::array<char, 16384> buf{};
    while (!session_.closed() && cut_ == Cut::None) {
      // Back-pressure: no further request is read while output is pending.
      if (session_.backlogged() || writing_) {
        co_await drained();
        if (session_.backlogged() && cut_ == Cut::None) send(session_.feed({}));
        continue;
      }
      boost::system::error_code ec;
      std::size_t n = co_await socket_.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        eof_ = true;  // EOF, reset or closed: the client's side is over
        break;
      }
      last_input_ = Clock::now();
      send(session_.feed(std::string_view(buf.data(), n)));
    }
    // A client that half-closed still gets every reply it asked for (the
    // write watchdog ends this if it stops reading them).
    while (session_.backlogged() && cut_ == Cut::None && !broken_) {
      co_await drained();
      if (cut_ == Cut::None) send(session_.feed({}));
    }
    co_await drained();
    finished_ = true;
    boost::system::error_code ec;
    socket_.shutdown(Socket::shutdown_both, ec);
    socket_.close(ec);
  }

  void on_stop_notification() { send(session_.poll_stop()); }
  bool closed_by_client() const { return session_.closed(); }
  bool seen_packet() const { return session_.seen_packet(); }
  Cut cut() const { return cut_; }
  // The client has hung up (its FIN or a reset is here), even if the reader
  // has not seen it yet.
  bool at_eof() {
    if (eof_ || finished_) return true;
    // POLLRDHUP: the peer shut down its side, even with its last requests
    // still unread before the FIN.
    pollfd p{socket_.native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

 private:
  void send(std::string bytes) {
    if (bytes.empty() || cut_ != Cut::None) return;
    queued_bytes_ += bytes.size();
    if (queued_bytes_ > kMaxPendingOutput) {
      // The session's budget keeps this from happening; if it did, the
      // client is cut rather than the memory grown.
      return end(Cut::Overflow);
    }
    queue_.push_back(std::move(bytes));
    if (writing_) return;
    writing_ = true;
    last_progress_ = Clock::now();
    asio::co_spawn(socket_.get_executor(), writer(this->shared_from_this()), asio::detached);
  }

  awaitable<void> writer([[maybe_unused]] std::shared_ptr<Connection> keep_alive) {
    boost::system::error_code ec;
    while (!queue_.empty() && !ec) {
      std::string bytes = std::move(queue_.front());
      queue_.pop_front();
      for (std::size_t done = 0; done < bytes.size() && !ec;) {
        done += co_await socket_.async_write_some(asio::buffer(bytes.data() + done, bytes.size() - done),
                                                  asio::redirect_error(use_awaitable, ec));
        last_progress_ = Clock::now();
      }
      queued_bytes_ -= std::min(queued_bytes_, bytes.size());
    }
    if (ec) {
      queue_.clear();
      queued_bytes_ = 0;
      eof_ = broken_ = true;
      boost::system::error_code ignored;
      socket_.close(ignored);
    }
    writing_ = false;
    drained_.cancel();
  }

  // Until the write queue is empty (or the connection was cut).
  awaitable<void> drained() {
    while (writing_ && cut_ == Cut::None) {
      boost::system::error_code ec;
      co_await drained_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  void end(Cut why) {
    if (cut_ != Cut::None) return;
    cut_ = why;
    queue_.clear();
    boost::system::error_code ec;
    socket_.close(ec);  // fails the pending read and write
    drained_.cancel();
  }

  awaitable<void> watchdog([[maybe_unused]] std::shared_ptr<Connection> keep_alive) {
    asio::steady_timer tick(socket_.get_executor());
    const auto started = Clock::now();
    last_input_ = started;
    while (!finished_ && cut_ == Cut::None) {
      tick.expires_after(std::chrono::milliseconds(100));
      boost::system::error_code ec;
      co_await tick.async_wait(asio::redirect_error(use_awaitable, ec));
      const auto now = Clock::now();
      const auto& l = limits_;
      if (writing_ && now - last_progress_ >= l.write_stall_timeout) end(Cut::Stalled);
      if (!session_.seen_packet() && l.handshake_timeout.count() > 0 && now - started >= l.handshake_timeout)
        end(Cut::Handshake);
      if (session_.seen_packet() && l.idle_timeout.count() > 0 && !session_.running() && !writing_ && !eof_ &&
          now - last_input_ >= l.idle_timeout)
        end(Cut::Idle);
    }
  }

  Socket socket_;
  std::unique_ptr<ProcessSlot> slot_;  // serve --multi; before session_, which refers to it
  Session session_;
  const ServerOptions& limits_;
  // Never expires; the writer cancels it each time the queue drains.
  asio::steady_timer drained_{socket_.get_executor(), asio::steady_timer::time_point::max()};
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool eof_ = false;     // the client's side ended (EOF, reset)
  bool broken_ = false;  // a write failed: nothing more can be sent
  bool finished_ = false;
  Cut cut_ = Cut::None;
  Clock::time_point last_progress_{};
  Clock::time_point last_input_{};
};

}  // namespace

struct Server::Impl {
  Impl(Target* t, ProcessHost* h, MultiOptions m, SessionOptions o, ServerOptions so)
      : target(t), host(h), multi(std::move(m)), options(o), limits(std::move(so)) {
    if (limits.access.daemon_uid == static_cast<uid_t>(-1)) limits.access.daemon_uid = ::geteuid();
    multi.policy = limits.access;
  }

  Target* target;      // single-guest mode
  ProcessHost* host;   // serve --multi
  MultiOptions multi;  // its options (policy = limits.access)
  HolderTable holders;
  std::set<ProcessSlot*> slots;  // of the clients being served (multi)
  SessionOptions options;
  ServerOptions limits;
  asio::io_context io;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<unix_stream::acceptor> unix_acceptor;
  ListenSpec bound;
  bool adopted = false;  // adopt(): the socket file is not ours to remove
  bool busy = false;
  bool attached = false;                 // the client being served stopped the guest
  bool handover = false;                 // a client waits for the current one's drop
  std::function<bool()> current_at_eof;  // of the client being served
  // Never expires; cancelled when the client slot frees.
  asio::steady_timer slot_free{io, asio::steady_timer::time_point::max()};
  std::function<void(const std::string&)> sink = [](const std::string& m) {
    std::fprintf(stderr, "svedbg: %s\n", m.c_str());
  };
  LogLimiter limiter;
  asio::steady_timer log_flush{io};
  std::optional<asio::signal_set> signals;  // stop_signals, from listen() on

  // From listen() or adopt() on: the stop signals end run().
  void handle_stop_signals() {
    if (signals) return;
    signals.emplace(io);
    for (int sig : limits.stop_signals) signals->add(sig);
    signals->async_wait([this](boost::system::error_code ec, int) {
      if (!ec) io.stop();
    });
  }

  // One log line of a kind, rate limited (LogLimiter); the summary of a
  // window with lines left out is printed when the window ends.
  void log(std::string_view kind, const std::string& line) {
    for (const auto& l : limiter.submit(kind, line, Clock::now())) sink(l);
    auto next = limiter.next_flush();
    if (!next) return;
    log_flush.expires_at(*next);
    log_flush.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      for (const auto& l : limiter.flush(Clock::now())) sink(l);
    });
  }

  template <typename Socket>
  awaitable<void> refuse(Socket socket, std::string message) {
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
      const std::string reply = "+" + encode_packet(message, false);
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
    log("connect", fmt::format("connection from {}", peer));
    auto first_packet = [this, peer] {
      // The guest stops at the first packet (a probe never sends one).
      log("attach", fmt::format("client {} connected", peer));
      attached = true;
      if (auto st = target->attach(); !st) log("attach", fmt::format("attach: {}", st.error().message));
    };
    auto conn = std::make_shared<Connection<Socket>>(std::move(socket), *target, options, limits, first_packet);
    std::weak_ptr<Connection<Socket>> weak = conn;
    current_at_eof = [weak] {
      auto c = weak.lock();
      return !c || c->at_eof();
    };
    target->set_stop_notifier(notifier(weak));
    co_await conn->run();
    target->set_stop_notifier({});
    current_at_eof = nullptr;
    log_end(*conn, peer, [this] { return describe(target->detach()); });
    attached = false;
    busy = false;
    slot_free.cancel();
  }

  // Stop notifications may come from another thread: they only schedule
  // the connection's poll_stop on the io_context.
  template <typename Conn>
  std::function<void()> notifier(std::weak_ptr<Conn> weak) {
    auto executor = io.get_executor();
    return [weak, executor] {
      asio::post(executor, [weak] {
        if (auto c = weak.lock()) c->on_stop_notification();
      });
    };
  }

  // serve --multi: one client among many, on its own ProcessSlot.
  template <typename Socket>
  awaitable<void> serve_multi(Socket socket, Peer peer) {
    log("connect", fmt::format("connection from {} ({})", peer.address, peer.describe()));
    auto slot = std::make_unique<ProcessSlot>(*host, peer, multi, holders,
                                              [this](const std::string& line) { log("multi", line); });
    ProcessSlot* s = slot.get();
    slots.insert(s);
    auto conn = std::make_shared<Connection<Socket>>(std::move(socket), std::move(slot), options, limits);
    s->set_stop_notifier(notifier(std::weak_ptr<Connection<Socket>>(conn)));
    co_await conn->run();
    log_end(*conn, peer.address, [s] {
      if (!s->attached()) return std::string("no VMM was attached");
      const long pid = s->pid();
      return fmt::format("pid {}: {}", pid, describe(s->detach_process()));
    });
    s->detach_process();
    s->set_stop_notifier({});
    slots.erase(s);
  }

  template <typename Conn>
  void log_end(const Conn& conn, const std::string& peer, const std::function<std::string()>& detach) {
    log_connection_end({conn.cut(), conn.seen_packet(), conn.closed_by_client()}, peer, limits, detach,
                       [this](std::string_view kind, const std::string& line) { log(kind, line); });
  }

  // A client arriving while the current one has already hung up is served
  // once that drop was handled, instead of being refused.
  template <typename Socket>
  awaitable<void> serve_next(Socket socket, std::string peer) {
    while (busy) {
      boost::system::error_code ec;
      co_await slot_free.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    handover = false;
    co_await serve(std::move(socket), std::move(peer));
  }

  template <typename Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor) {
    bool failing = false;
    asio::steady_timer retry(io);
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // EMFILE/ENFILE/ENOBUFS/ENOMEM, or a connection that died in the
        // backlog: keep listening; try again shortly.
        if (!failing) log("accept", fmt::format("accept: {}; still listening, retrying", ec.message()));
        failing = true;
        retry.expires_after(std::chrono::milliseconds(100));
        co_await retry.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (failing) log("accept", "accept: works again");
      failing = false;
      no_delay(socket);
      keep_alive(socket);
      std::string peer = peer_name(socket);
      // A single-guest daemon's busy refusal needs no identity (a connect
      // storm is refused as fast as it comes); every other connection's
      // peer is identified and checked before it is served.
      const bool hand_over = !host && busy && !handover && current_at_eof && current_at_eof();
      if (!host && (busy || handover) && !hand_over) {
        log("refuse", fmt::format("refusing {}: a client is already connected", peer));
        asio::co_spawn(io, refuse(std::move(socket), kBusyMessage), asio::detached);
        continue;
      }
      const Peer who = identify(socket);
      if (auto why = admit(who); !why.empty()) {
        log("refuse", fmt::format("refusing {}: {}", peer, why));
        asio::co_spawn(io, refuse(std::move(socket), "E.svedbg: refused: " + why), asio::detached);
      } else if (host) {
        asio::co_spawn(io, serve_multi(std::move(socket), who), asio::detached);
      } else if (hand_over) {
        handover = true;
        asio::co_spawn(io, serve_next(std::move(socket), peer), asio::detached);
      } else {
        asio::co_spawn(io, serve(std::move(socket), peer), asio::detached);
      }
    }
  }

  // Why this peer may not be served (empty: it may). A single-guest
  // daemon decides for its one guest at once; a multi daemon per VMM.
  std::string admit(const Peer& who) {
    return may_serve(limits.access, who, host != nullptr, limits.guest_owner).reason;
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

Server::Server(Target& target, SessionOptions options, ServerOptions server_options)
    : impl_(std::make_unique<Impl>(&target, nullptr, MultiOptions{}, options, std::move(server_options))) {}

Server::Server(ProcessHost& host, MultiOptions multi, SessionOptions options, ServerOptions server_options)
    : impl_(std::make_unique<Impl>(nullptr, &host, std::move(multi), options, std::move(server_options))) {}

Server::~Server() {
  if (impl_->unix_acceptor && !impl_->adopted) ::unlink(impl_->bound.path.c_str());
}

const ListenSpec& Server::bound() const { return impl_->bound; }

void Server::set_logger(std::function<void(const std::string&)> log) { impl_->sink = std::move(log); }

Status Server::listen(const ListenSpec& spec) {
  // The stop signals are handled from here on, before the caller says
  // where it listens: a signal sent right after that still stops cleanly.
  auto& im = *impl_;
  im.handle_stop_signals();
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
    // Create the socket file with its mode atomically (0600 by default:
    // only its owner may debug the guest).
    mode_t old = ::umask(static_cast<mode_t>(~im.limits.unix_mode & 0777));
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
  if (im.tcp_acceptor) asio::co_spawn(im.io, im.accept_loop(*im.tcp_acceptor), asio::detached);
  if (im.unix_acceptor) asio::co_spawn(im.io, im.accept_loop(*im.unix_acceptor), asio::detached);
  im.io.run();
  for (const auto& l : im.limiter.flush(Clock::now(), true)) im.sink(l);
  // Leaving: a client still attached gets its guest back as it was.
  if (im.attached) im.target->detach();
  for (ProcessSlot* slot : im.slots) slot->detach_process();
}

void Server::stop() { impl_->io.stop(); }

Status Server::adopt(int fd) {
  UniqueFd owned(fd);
  auto family = listening_socket_family(fd);
  if (!family) return family.error();
  auto& im = *impl_;
  im.handle_stop_signals();
  boost::system::error_code ec;
  if (*family == AF_UNIX) {
    auto& acc = im.unix_acceptor.emplace(im.io);
    acc.assign(unix_stream(), owned.get(), ec);
    if (!ec) owned.release();  // the acceptor owns it now
    if (!ec) im.bound = ListenSpec{ListenSpec::Kind::Unix, {}, 0, acc.local_endpoint(ec).path()};
    if (ec) im.unix_acceptor.reset();
    im.adopted = true;
  } else {  // AF_INET or AF_INET6
    auto& acc = im.tcp_acceptor.emplace(im.io);
    acc.assign(*family == AF_INET ? tcp::v4() : tcp::v6(), owned.get(), ec);
    if (!ec) owned.release();
    auto ep = ec ? tcp::endpoint() : acc.local_endpoint(ec);
    if (!ec) im.bound = ListenSpec{ListenSpec::Kind::Tcp, ep.address().to_string(), ep.port(), {}};
    if (ec) im.tcp_acceptor.reset();
  }
  if (ec) return make_error(ec.value(), "inherited fd {}: {}", fd, ec.message());
  return {};
}

}  // namespace svedbg::gdbstub
