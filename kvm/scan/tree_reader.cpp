// A directory tree read through system calls (see tree_reader.hpp).
#include "kvm/scan/tree_reader.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace svedbg::kvm {

std::string TreeReader::path(std::string_view rel) const {
  if (rel.empty()) return root_;
  return fmt::format("{}/{}", root_, rel);
}

Result<std::vector<std::string>> TreeReader::list(const std::string& rel) const {
  const std::string p = path(rel);
  DIR* d = ::opendir(p.c_str());
  if (!d) return make_error(errno, "cannot read {}: {}", p, std::strerror(errno));
  std::vector<std::string> out;
  errno = 0;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return make_error(err, "cannot read {}: {}", p, std::strerror(err));
  return out;
}

Result<std::string> TreeReader::read_link(const std::string& rel) const {
  const std::string p = path(rel);
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
    if (n < 0) return make_error(errno, "cannot read link {}: {}", p, std::strerror(errno));
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

Result<std::string> TreeReader::read_file(const std::string& rel) const {
  const std::string p = path(rel);
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno, "cannot open {}: {}", p, std::strerror(errno));
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return make_error(err, "cannot read {}: {}", p, std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;  // /proc files are small; a fake tree might not be
  }
  ::close(fd);
  return out;
}

}  // namespace svedbg::kvm
