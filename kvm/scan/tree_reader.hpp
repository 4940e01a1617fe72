// kvm/scan/tree_reader: read access to a directory tree such as /proc or
// KVM's debugfs, so that `svedbg ps` can scan the host or a fake tree.
//
// Contract: paths are relative to the root given at construction ("" is
// the root itself). list() gives the entry names without "." and "..", in
// directory order; read_link() the whole target of a symlink; read_file()
// the contents of a file, cut after the first MiB (/proc files are small).
// Errors carry the errno of the failed call and name the full path. The
// three readers are virtual so that tests can inject errors (EACCES on
// another user's /proc/PID/fd) that a test running as root cannot produce.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace svedbg::kvm {

class TreeReader {
 public:
  explicit TreeReader(std::string root) : root_(std::move(root)) {}
  virtual ~TreeReader() = default;
  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const;

  virtual Result<std::vector<std::string>> list(const std::string& rel) const;
  virtual Result<std::string> read_link(const std::string& rel) const;
  virtual Result<std::string> read_file(const std::string& rel) const;

 private:
  std::string root_;
};

}  // namespace svedbg::kvm
