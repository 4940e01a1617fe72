// svedbg-rsp-bench: a minimal GDB remote protocol client that measures round
// trips per second for `p` (one Z register), `g`, `m` and a full register
// read against any stub (svedbg or qemu's gdbstub). It does what gdb would on
// the wire with as little client work as possible (one prebuilt request per
// packet, TCP_NODELAY, no-ack mode when offered), so the figures are the
// stub's cost plus the kernel's loopback, not the client's. bench/run drives
// it; bench/README.md explains the figures.
//
//   svedbg-rsp-bench HOST:PORT [--seconds S] [--mem ADDR] [--mem-len N] [--only p|g|m|all] [--stub-pid PID]
//
// --only runs one measurement (to profile the stub on one packet kind).
// --stub-pid adds the stub's CPU time per round trip (from /proc schedstat),
// which the machine's load disturbs far less than the rate.
// Prints one line of JSON on stdout and a readable summary on stderr.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "svedbg-rsp-bench: %s\n", msg.c_str());
  std::exit(1);
}

class Client {
 public:
  Client(const std::string& host, unsigned port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) die("socket failed");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) die("bad IPv4 address " + host);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      die("cannot connect to " + host + ":" + std::to_string(port));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  static std::string frame(const std::string& payload) {
    unsigned sum = 0;
    for (unsigned char c : payload) sum += c;
    char tail[4];
    std::snprintf(tail, sizeof tail, "#%02x", sum & 0xff);
    return "$" + payload + tail;
  }

  // Sends an already framed request and returns the decoded reply payload.
  const std::string& transact(const std::string& framed) {
    write_all(framed);
    if (!no_ack_) expect_ack();
    read_packet();
    if (!no_ack_) write_all("+");
    return reply_;
  }
  const std::string& request(const std::string& payload) { return transact(frame(payload)); }
  void set_no_ack() { no_ack_ = true; }

 private:
  void write_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
      if (n <= 0) die("write failed");
      off += static_cast<std::size_t>(n);
    }
  }
  int next_byte() {
    if (pos_ == len_) {
      ssize_t n = ::read(fd_, buf_, sizeof buf_);
      if (n <= 0) die("connection closed by the stub");
      len_ = static_cast<std::size_t>(n);
      pos_ = 0;
    }
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  void expect_ack() {
    for (;;) {
      int c = next_byte();
      if (c == '+') return;
      if (c == '-') die("stub asked for a retransmission");
    }
  }
  // One `$...#xx` packet: '}' escapes and '*' run-length encoding undone.
  void read_packet() {
    reply_.clear();
    int c;
    while ((c = next_byte()) != '$') {}
    while ((c = next_byte()) != '#') {
      if (c == '}') {
        reply_.push_back(static_cast<char>(next_byte() ^ 0x20));
      } else if (c == '*') {
        int n = next_byte() - 29;
        if (reply_.empty() || n < 0) die("bad run-length encoding in reply");
        reply_.append(static_cast<std::size_t>(n), reply_.back());
      } else {
        reply_.push_back(static_cast<char>(c));
      }
    }
    next_byte();  // checksum: loopback TCP does not corrupt; not verified
    next_byte();
  }

  int fd_ = -1;
  bool no_ack_ = false;
  char buf_[1 << 16];
  std::size_t pos_ = 0, len_ = 0;
  std::string reply_;
};

std::string attr(const std::string& tag, const std::string& name) {
  auto p = tag.find(" " + name + "=\"");
  if (p == std::string::npos) return {};
  p += name.size() + 3;
  return tag.substr(p, tag.find('"', p) - p);
}

struct Reg {
  std::string name;
  unsigned regnum;
  unsigned bytes;
};

std::string read_xfer(Client& c, const std::string& annex) {
  std::string doc;
  for (;;) {
    char req[256];
    std::snprintf(req, sizeof req, "qXfer:features:read:%s:%zx,%x", annex.c_str(), doc.size(), 0x3f00);
    const std::string& r = c.request(req);
    if (r.empty() || (r[0] != 'm' && r[0] != 'l')) die("qXfer of " + annex + " failed: " + r);
    doc += r.substr(1);
    if (r[0] == 'l') return doc;
  }
}

// Registers in description order, with the numbering rules of gdb's
// target-descriptions (a regnum= attribute sets the counter).
void collect_regs(Client& c, const std::string& doc, std::vector<Reg>& regs, unsigned& next) {
  std::size_t p = 0;
  while ((p = doc.find('<', p)) != std::string::npos) {
    std::size_t e = doc.find('>', p);
    std::string tag = doc.substr(p, e - p);
    p = e;
    if (tag.rfind("<xi:include", 0) == 0) {
      collect_regs(c, read_xfer(c, attr(tag, "href")), regs, next);
    } else if (tag.rfind("<reg ", 0) == 0) {
      if (auto rn = attr(tag, "regnum"); !rn.empty()) next = static_cast<unsigned>(std::stoul(rn));
      regs.push_back({attr(tag, "name"), next++, static_cast<unsigned>(std::stoul(attr(tag, "bitsize")) / 8)});
    }
  }
}

// CPU time the stub process has used, in ns: the sum over its threads of
// /proc/PID/task/TID/schedstat's first field. 0 without --stub-pid.
std::uint64_t stub_cpu_ns(int pid) {
  if (pid <= 0) return 0;
  std::uint64_t total = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (FILE* f = std::fopen((dir + "/" + e->d_name + "/schedstat").c_str(), "r")) {
      unsigned long long ns = 0;
      if (std::fscanf(f, "%llu", &ns) == 1) total += ns;
      std::fclose(f);
    }
  }
  ::closedir(d);
  return total;
}

struct Rate {
  double per_second;
  std::uint64_t count;
  double stub_us;  // stub CPU per iteration, microseconds
};

int g_stub_pid = 0;

Rate measure(double seconds, const std::function<void()>& once) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 20; ++i) once();  // warm-up
  const std::uint64_t cpu0 = stub_cpu_ns(g_stub_pid);
  const auto start = clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  auto now = start;
  do {
    once();
    ++n;
    now = clock::now();
  } while (now < end);
  const double stub_us = static_cast<double>(stub_cpu_ns(g_stub_pid) - cpu0) / 1e3 / static_cast<double>(n);
  return {static_cast<double>(n) / std::chrono::duration<double>(now - start).count(), n, stub_us};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    die("usage: svedbg-rsp-bench HOST:PORT [--seconds S] [--mem ADDR] [--mem-len N] [--only p|g|m|all] [--stub-pid "
        "PID]");
  std::string target = argv[1];
  double seconds = 1.0;
  std::uint64_t mem = 0x40000000;
  std::size_t mem_len = 4096;
  std::string only;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string o = argv[i];
    if (o == "--seconds")
      seconds = std::stod(argv[i + 1]);
    else if (o == "--mem")
      mem = std::stoull(argv[i + 1], nullptr, 0);
    else if (o == "--mem-len")
      mem_len = std::stoul(argv[i + 1], nullptr, 0);
    else if (o == "--only")
      only = argv[i + 1];
    else if (o == "--stub-pid")
      g_stub_pid = std::stoi(argv[i + 1]);
    else
      die("unknown option " + o);
  }
  auto colon = target.rfind(':');
  if (colon == std::string::npos) die("expected HOST:PORT");
  Client c(target.substr(0, colon), static_cast<unsigned>(std::stoul(target.substr(colon + 1))));

  // Handshake as gdb does: qSupported, no-ack mode if offered, `?`.
  const std::string sup = c.request("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;xmlRegisters=aarch64");
  std::size_t packet_size = 400;  // gdb's default when the stub says nothing
  if (auto p = sup.find("PacketSize="); p != std::string::npos)
    packet_size = std::stoul(sup.substr(p + 11), nullptr, 16);
  const bool no_ack = sup.find("QStartNoAckMode+") != std::string::npos;
  if (no_ack) {
    if (c.request("QStartNoAckMode") != "OK") die("QStartNoAckMode refused");
    c.set_no_ack();
  }
  c.request("?");

  std::vector<Reg> regs;
  unsigned next = 0;
  collect_regs(c, read_xfer(c, "target.xml"), regs, next);
  std::sort(regs.begin(), regs.end(), [](const Reg& a, const Reg& b) { return a.regnum < b.regnum; });
  auto z0 = std::find_if(regs.begin(), regs.end(), [](const Reg& r) { return r.name == "z0"; });
  if (z0 == regs.end()) die("the target description has no z0");

  // Which registers does `g` carry? The leading ones whose sizes add up to
  // its length; gdb fetches the rest with one `p` each.
  const std::size_t g_bytes = c.request("g").size() / 2;
  std::vector<std::string> extra;  // framed `p` requests for registers not in `g`
  std::size_t acc = 0;
  for (const auto& r : regs) {
    if (acc + r.bytes <= g_bytes) {
      acc += r.bytes;
      continue;
    }
    char req[32];
    std::snprintf(req, sizeof req, "p%x", r.regnum);
    extra.push_back(Client::frame(req));
  }

  char buf[64];
  std::snprintf(buf, sizeof buf, "p%x", z0->regnum);
  const std::string p_req = Client::frame(buf);
  const std::size_t z_hex = c.transact(p_req).size();
  if (z_hex != 2u * z0->bytes)
    die("p z0 returned " + std::to_string(z_hex / 2) + " bytes, the description says " + std::to_string(z0->bytes));
  const std::string g_req = Client::frame("g");
  // gdb reads at most (PacketSize - header)/2 bytes per `m`; so do we.
  const std::size_t chunk = std::min(mem_len, (packet_size - 32) / 2);
  std::vector<std::string> m_reqs;
  for (std::size_t off = 0; off < mem_len; off += chunk) {
    std::snprintf(buf, sizeof buf, "m%llx,%zx", static_cast<unsigned long long>(mem + off),
                  std::min(chunk, mem_len - off));
    m_reqs.push_back(Client::frame(buf));
  }
  for (const auto& m : m_reqs) {
    const std::string& r = c.transact(m);
    if (r.empty() || r[0] == 'E') die("memory read failed at the --mem address: " + r);
  }

  auto run = [&](const char* kind, const std::function<void()>& once) {
    return only.empty() || only == kind ? measure(seconds, once) : Rate{0, 0, 0};
  };
  const Rate p = run("p", [&] { c.transact(p_req); });
  const Rate g = run("g", [&] { c.transact(g_req); });
  const Rate m = run("m", [&] {
    for (const auto& r : m_reqs) c.transact(r);
  });
  const Rate all = run("all", [&] {
    c.transact(g_req);
    for (const auto& r : extra) c.transact(r);
  });
  c.request("D");

  std::printf(
      "{\"packet_size\": %zu, \"no_ack\": %s, \"z_bytes\": %u, \"g_bytes\": %zu, \"regs_outside_g\": %zu, "
      "\"mem_len\": %zu, \"m_packets_per_read\": %zu, \"p_z0_per_s\": %.1f, \"g_per_s\": %.1f, "
      "\"m_read_per_s\": %.1f, \"all_regs_per_s\": %.1f, \"p_z0_stub_us\": %.2f, \"g_stub_us\": %.2f, "
      "\"m_read_stub_us\": %.2f, \"all_regs_stub_us\": %.2f}\n",
      packet_size, no_ack ? "true" : "false", z0->bytes, g_bytes, extra.size(), mem_len, m_reqs.size(), p.per_second,
      g.per_second, m.per_second, all.per_second, p.stub_us, g.stub_us, m.stub_us, all.stub_us);
  std::fprintf(stderr,
               "PacketSize %zu, no-ack %s, z0 %u bytes, g %zu bytes, %zu registers outside g\n"
               "p z0: %.0f/s  g: %.0f/s  m %zu bytes (%zu packets): %.0f/s  all registers (g + %zu p): %.0f/s\n",
               packet_size, no_ack ? "yes" : "no", z0->bytes, g_bytes, extra.size(), p.per_second, g.per_second,
               mem_len, m_reqs.size(), m.per_second, extra.size(), all.per_second);
  return 0;
}
