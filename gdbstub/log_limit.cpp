#include "gdbstub/log_limit.hpp"

#include <fmt/format.h>

namespace svedbg::gdbstub {

LogLimiter::LogLimiter(std::size_t burst, Clock::duration window) : burst_(burst), window_(window) {}

std::optional<std::string> LogLimiter::close_window(Kind& k, Clock::time_point now, bool force) {
  if (!force && now - k.window_start < window_) return std::nullopt;
  std::optional<std::string> summary;
  if (k.left_out > 0)
    summary =
        fmt::format("... {} similar line{} left out, the last: {}", k.left_out, k.left_out == 1 ? "" : "s", k.last);
  k = Kind{now, 0, 0, {}};
  return summary;
}

std::vector<std::string> LogLimiter::submit(std::string_view kind, std::string line, Clock::time_point now) {
  std::vector<std::string> out;
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), Kind{now, 0, 0, {}}).first;
  Kind& k = it->second;
  if (auto summary = close_window(k, now, false)) out.push_back(std::move(*summary));
  if (k.printed < burst_) {
    ++k.printed;
    out.push_back(std::move(line));
  } else {
    ++k.left_out;
    k.last = std::move(line);
  }
  return out;
}

std::vector<std::string> LogLimiter::flush(Clock::time_point now, bool all) {
  std::vector<std::string> out;
  for (auto& [name, k] : kinds_) {
    if (k.left_out == 0) continue;
    if (auto summary = close_window(k, now, all)) out.push_back(std::move(*summary));
  }
  return out;
}

std::optional<LogLimiter::Clock::time_point> LogLimiter::next_flush() const {
  std::optional<Clock::time_point> next;
  for (const auto& [name, k] : kinds_) {
    if (k.left_out == 0) continue;
    const auto end = k.window_start + window_;
    if (!next || end < *next) next = end;
  }
  return next;
}

}  // namespace svedbg::gdbstub
