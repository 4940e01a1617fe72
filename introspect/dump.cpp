#include "introspect/dump.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "introspect/guest_memory.hpp"
#include "introspect/paused_guest.hpp"
#include "introspect/vcpu_snapshot.hpp"

namespace svedbg::introspect {
namespace {

// Where a dump is written until commit():
//  - a regular file (or a new name): NAME.XXXXXX next to it, renamed over
//    NAME, so a failed dump never leaves half a file;
//  - an existing device or FIFO (`-o /dev/vda`, `-o /dev/stdout`): an
//    unlinked temporary file in $TMPDIR (libelf seeks and truncates, which a
//    block device or a FIFO refuses), copied into the node in one sequential
//    pass; the node itself is never replaced.
// Nothing is left behind if commit() is never reached: the destructor
// removes the file on every return, TempFileSignalGuard on SIGINT, SIGTERM
// and SIGHUP.
class TempOutput {
 public:
  static Result<TempOutput> create(const std::string& final_name) {
    struct stat st {};
    if (::stat(final_name.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      if (S_ISDIR(st.st_mode)) return make_error(EISDIR, "cannot write {}: it is a directory", final_name);
      TempOutput out(-1, std::string(), final_name);
      out.node_ = ::open(final_name.c_str(), O_WRONLY | O_CLOEXEC);
      if (out.node_ < 0) return make_error(errno, "cannot open {}: {}", final_name, std::strerror(errno));
      const char* dir = std::getenv("TMPDIR");
      std::string tmpl = fmt::format("{}/svedbg-dump.XXXXXX", dir && *dir ? dir : "/tmp");
      out.fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
      if (out.fd_ < 0) return make_error(errno, "cannot create {}: {}", tmpl, std::strerror(errno));
      ::unlink(tmpl.c_str());
      out.copy_ = ::dup(out.fd_);  // survives release_to_stdio()'s fclose
      if (out.copy_ < 0) return make_error(errno, "dup: {}", std::strerror(errno));
      return out;
    }
    std::string tmpl = final_name + ".XXXXXX";
    const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return make_error(errno, "cannot create {}: {}", tmpl, std::strerror(errno));
    return TempOutput(fd, std::move(tmpl), final_name);
  }
  TempOutput(TempOutput&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)),
        node_(std::exchange(o.node_, -1)),
        copy_(std::exchange(o.copy_, -1)),
        tmp_(std::move(o.tmp_)),
        final_(std::move(o.final_)) {}
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;
  TempOutput& operator=(TempOutput&&) = delete;
  ~TempOutput() {
    for (int fd : {fd_, node_, copy_})
      if (fd >= 0) ::close(fd);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }
  int fd() const { return fd_; }
  // The named temporary file ("" when it has no name: written to a device).
  const std::string& temp_path() const { return tmp_; }
  // Hands the fd to a FILE* (for stdio writers); the FILE then owns it.
  std::FILE* release_to_stdio() {
    std::FILE* f = ::fdopen(fd_, "w");
    if (f) fd_ = -1;
    return f;
  }
  Status commit() {
    if (fd_ >= 0 && ::close(std::exchange(fd_, -1)) != 0)
      return make_error(errno, "writing {}: {}", final_, std::strerror(errno));
    if (node_ >= 0) return copy_to_node();
    if (::rename(tmp_.c_str(), final_.c_str()) != 0)
      return make_error(errno, "cannot rename {} to {}: {}", tmp_, final_, std::strerror(errno));
    tmp_.clear();
    return {};
  }

 private:
  TempOutput(int fd, std::string tmp, std::string final_name)
      : fd_(fd), tmp_(std::move(tmp)), final_(std::move(final_name)) {}

  Status copy_to_node() {
    std::vector<char> buf(1 << 20);
    for (off_t off = 0;;) {
      const ssize_t n = ::pread(copy_, buf.data(), buf.size(), off);
      if (n < 0) return make_error(errno, "reading back the dump for {}: {}", final_, std::strerror(errno));
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(node_, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return make_error(errno, "writing {}: {}", final_, std::strerror(errno));
        done += w;
      }
      off += n;
    }
    if (::close(std::exchange(node_, -1)) != 0)
      return make_error(errno, "writing {}: {}", final_, std::strerror(errno));
    return {};
  }

  int fd_ = -1;
  int node_ = -1;  // the device or FIFO written in place
  int copy_ = -1;  // a second fd of the unlinked temporary file
  std::string tmp_;
  std::string final_;
};

// The temporary file a signal must not leave behind: one dump at a time.
char g_signal_temp_path[4096];
volatile std::sig_atomic_t g_signal_temp_armed = 0;
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void unlink_temp_and_die(int sig) {
  // Async-signal-safe only: unlink, then the signal again, whose action
  // SA_RESETHAND made the default: the process ends as it would have.
  if (g_signal_temp_armed) ::unlink(g_signal_temp_path);
  ::raise(sig);
}

// While it lives, SIGINT, SIGTERM and SIGHUP, where their action is the
// default (ending the process), first unlink `path`, then end the process
// by the same signal. A process that handles them itself keeps its
// handlers (and TempOutput's destructor cleans up on its way out).
class TempFileSignalGuard {
 public:
  explicit TempFileSignalGuard(const std::string& path) {
    if (path.empty() || path.size() >= sizeof g_signal_temp_path || g_signal_temp_armed) return;
    std::memcpy(g_signal_temp_path, path.c_str(), path.size() + 1);
    g_signal_temp_armed = 1;
    armed_ = true;
    for (std::size_t i = 0; i < std::size(kCleanupSignals); ++i) {
      struct sigaction now {};
      if (::sigaction(kCleanupSignals[i], nullptr, &now) != 0 || now.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = unlink_temp_and_die;
      sa.sa_flags = SA_RESETHAND | SA_NODEFER;
      sigemptyset(&sa.sa_mask);
      installed_[i] = ::sigaction(kCleanupSignals[i], &sa, &old_[i]) == 0;
    }
  }
  ~TempFileSignalGuard() {
    if (!armed_) return;
    for (std::size_t i = 0; i < std::size(kCleanupSignals); ++i)
      if (installed_[i]) ::sigaction(kCleanupSignals[i], &old_[i], nullptr);
    g_signal_temp_armed = 0;
  }
  TempFileSignalGuard(const TempFileSignalGuard&) = delete;
  TempFileSignalGuard& operator=(const TempFileSignalGuard&) = delete;

 private:
  bool armed_ = false;
  bool installed_[std::size(kCleanupSignals)] = {};
  struct sigaction old_[std::size(kCleanupSignals)] = {};
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void operator()(std::uint64_t done, std::uint64_t total) {
    if (!enabled_ || total == 0) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct == last_) return;
    last_ = pct;
    std::fprintf(stderr, "\rsvedbg: writing guest RAM: %3d%% (%llu of %llu MiB)", pct,
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total >> 20));
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  int last_ = -1;
};

}  // namespace

Result<DumpFormat> parse_dump_format(const std::string& text) {
  if (text == "json") return DumpFormat::Json;
  if (text == "elf") return DumpFormat::Elf;
  return make_error(EINVAL, "--format must be json or elf, not '{}'", text);
}

std::string format_dump_times(const DumpTimes& t) {
  const auto ms = [](std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const double per_vcpu = t.vcpus ? ms(t.read) / t.vcpus : 0.0;
  return fmt::format(
      "svedbg dump: times (ms): open {:.3f}, stop {:.3f}, read {:.3f} ({:.3f} per vCPU), write {:.3f}, close {:.3f}; "
      "total {:.3f}",
      ms(t.open), ms(t.stop), ms(t.read), per_vcpu, ms(t.write), ms(t.close),
      ms(t.open + t.stop + t.read + t.write + t.close));
}

namespace {

// Adds the time since the last lap (or construction) to a phase.
class Lap {
 public:
  explicit Lap(DumpTimes* times) : times_(times) {}
  void to(std::chrono::nanoseconds DumpTimes::*phase) {
    const auto now = std::chrono::steady_clock::now();
    if (times_) times_->*phase += now - last_;
    last_ = now;
  }

 private:
  DumpTimes* times_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

Status write_dump(kvm::Backend& backend, const DumpRequest& request, const std::vector<VcpuSnapshot>& vcpus);

}  // namespace

Status dump_guest(kvm::Backend& backend, const DumpRequest& request) {
  if (request.output.empty()) return make_error(EINVAL, "no output file (-o FILE, or -o - for JSON on stdout)");
  if (request.format == DumpFormat::Elf && request.output == "-")
    return make_error(EINVAL, "an ELF core cannot go to stdout (it is written with seeks): give -o FILE");

  Lap lap(request.times);
  auto paused = PausedGuest::pause(backend);
  lap.to(&DumpTimes::stop);
  if (!paused) return paused.error();
  auto vcpus = take_snapshots(backend);
  lap.to(&DumpTimes::read);
  if (!vcpus) return vcpus.error();
  if (request.times) request.times->vcpus = static_cast<unsigned>(vcpus->size());
  Status written = write_dump(backend, request, *vcpus);
  lap.to(&DumpTimes::write);
  return written;
}

namespace {

Status write_dump(kvm::Backend& backend, const DumpRequest& request, const std::vector<VcpuSnapshot>& vcpus) {
  if (request.format == DumpFormat::Json && request.output == "-")
    return write_json_dump(stdout, request.source, vcpus, request.memory ? &backend : nullptr);

  auto out = TempOutput::create(request.output);
  if (!out) return out.error();
  // Destroyed before `out`, whose destructor removes the file on return.
  TempFileSignalGuard on_signal(out->temp_path());
  if (request.format == DumpFormat::Json) {
    std::unique_ptr<std::FILE, FileCloser> f(out->release_to_stdio());
    if (!f) return make_error(errno, "{}: {}", request.output, std::strerror(errno));
    if (auto s = write_json_dump(f.get(), request.source, vcpus, request.memory ? &backend : nullptr); !s) return s;
    if (std::fclose(f.release()) != 0) return make_error(errno, "writing {}: {}", request.output, std::strerror(errno));
    return out->commit();
  }

  CoreWriteOptions opts;
  opts.sve_notes = request.sve_notes;
  opts.memory = request.memory;
  Progress progress(request.memory && ::isatty(STDERR_FILENO) && total_size(backend.memory_map()) >= kProgressMinBytes);
  opts.progress = [&progress](std::uint64_t done, std::uint64_t total) { progress(done, total); };
  if (auto s = write_core(out->fd(), vcpus, backend, opts); !s)
    return make_error(s.error().code, "writing {}: {}", request.output, s.error().message);
  return out->commit();
}

}  // namespace

}  // namespace svedbg::introspect
