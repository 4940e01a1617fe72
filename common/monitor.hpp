// svedbg::MonitorRegistry: gdb's `monitor` commands as data.
//
// Contract: each command is {name, args, help, changes_guest, run}. `name`
// is one or more words ("attach batch"); a command line matches the
// registered name that equals its leading words, the longest such name
// winning, and `run` receives the rest of the line (trimmed, possibly
// empty) as its argument text. `changes_guest` says whether running it may
// change guest state: the target refuses such commands under --read-only
// and reads registers again after one ran. help() renders every command, in
// the order added, as "monitor NAME ARGS" followed by its wrapped help text,
// so no command's help is written or aligned by hand. The target model adds
// its own commands and asks its backend to add the backend's
// (kvm::Backend::add_monitor_commands); names must be unique (add() throws
// std::logic_error on a duplicate or an empty name, a programming error).
// The registry does not own what the `run` functions capture: whoever adds a
// command keeps its captures alive as long as the registry.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svedbg {

struct MonitorCommand {
  std::string name;           // the command's words, e.g. "sim set-vl"
  std::string args;           // synopsis of what follows, e.g. "VCPU BITS", "on|off"; "" for none
  std::string help;           // what it does; wrapped by help()
  bool changes_guest = true;  // may change guest state (refused by --read-only)
  std::function<Result<std::string>(std::string_view args)> run;
};

class MonitorRegistry {
 public:
  void add(MonitorCommand command);

  struct Match {
    const MonitorCommand* command = nullptr;
    std::string_view args;  // the rest of the line after the name, trimmed
  };
  // The command `line` names (surrounding whitespace ignored), or nullopt.
  std::optional<Match> find(std::string_view line) const;

  // Every command: "monitor NAME ARGS" and its help, wrapped at 80 columns.
  std::string help() const;

  const std::vector<MonitorCommand>& commands() const { return commands_; }

 private:
  std::vector<MonitorCommand> commands_;
};

// `line` split at blanks (spaces, tabs, newlines), empty words dropped.
std::vector<std::string_view> split_words(std::string_view line);

}  // namespace svedbg
