#include "common/monitor.hpp"

#include <algorithm>
#include <stdexcept>

namespace svedbg {

namespace {

constexpr std::string_view kBlanks = " \t\r\n";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kBlanks);
  return s.substr(first, last - first + 1);
}

// Whether `line` starts with the words of `name` (separated by any blanks),
// and where the rest of the line begins.
std::optional<std::size_t> match_words(std::string_view line, std::string_view name) {
  std::size_t pos = 0;
  for (auto word : split_words(name)) {
    pos = line.find_first_not_of(kBlanks, pos);
    if (pos == std::string_view::npos || line.substr(pos, word.size()) != word) return std::nullopt;
    pos += word.size();
    if (pos < line.size() && kBlanks.find(line[pos]) == std::string_view::npos) return std::nullopt;
  }
  return pos;
}

// `text` wrapped into lines of at most `width` characters, each after `indent`.
std::string wrap(std::string_view text, std::size_t indent, std::size_t width) {
  std::string out;
  std::size_t col = indent;
  bool first = true;
  for (auto word : split_words(text)) {
    if (!first && col + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      col = indent;
      first = true;
    }
    if (!first) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    first = false;
  }
  return out;
}

}  // namespace

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t pos = 0;
  while ((pos = line.find_first_not_of(kBlanks, pos)) != std::string_view::npos) {
    auto end = line.find_first_of(kBlanks, pos);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return words;
}

void MonitorRegistry::add(MonitorCommand command) {
  if (split_words(command.name).empty()) throw std::logic_error("monitor command without a name");
  std::string normal;
  for (auto w : split_words(command.name)) normal += (normal.empty() ? "" : " ") + std::string(w);
  for (const auto& c : commands_)
    if (c.name == normal) throw std::logic_error("monitor command '" + normal + "' added twice");
  command.name = std::move(normal);
  commands_.push_back(std::move(command));
}

std::optional<MonitorRegistry::Match> MonitorRegistry::find(std::string_view line) const {
  line = trim(line);
  const MonitorCommand* best = nullptr;
  std::size_t best_words = 0, rest = 0;
  for (const auto& c : commands_) {
    const auto end = match_words(line, c.name);
    const auto words = split_words(c.name).size();
    if (end && words > best_words) {
      best = &c;
      best_words = words;
      rest = *end;
    }
  }
  if (!best) return std::nullopt;
  return Match{best, trim(line.substr(rest))};
}

std::string MonitorRegistry::help() const {
  // "monitor NAME ARGS" in a column wide enough for most names; a longer
  // one puts its help on the next line.
  constexpr std::size_t kColumn = 30, kWidth = 100;
  std::string out;
  for (const auto& c : commands_) {
    std::string head = "monitor " + c.name + (c.args.empty() ? "" : " " + c.args);
    if (head.size() + 1 > kColumn) {
      out += head + '\n';
      out.append(kColumn, ' ');
    } else {
      head.resize(kColumn, ' ');
      out += head;
    }
    out += wrap(c.help, kColumn, kWidth) + '\n';
  }
  return out;
}

}  // namespace svedbg
