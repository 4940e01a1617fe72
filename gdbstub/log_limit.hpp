// gdbstub::LogLimiter: rate limit for the daemon's log lines, with no I/O.
//
// Contract: each line has a kind (e.g. "refuse", "drop"). Within one window
// (10 s by default) the first `burst` lines of a kind are printed; the rest
// of that window's lines of the kind are counted, not printed, and when the
// window is over one summary line says how many were left out and repeats
// the last of them ("... N similar lines left out, the last: ..."), as
// syslog's "last message repeated N times". Time is passed in, so the
// limiter is deterministic; the caller prints what submit() and flush()
// return, and calls flush() at next_flush().
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svedbg::gdbstub {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogLimiter(std::size_t burst = 10, Clock::duration window = std::chrono::seconds(10));

  // The lines to print now for `line` of kind `kind`: a summary of the
  // kind's last window if it ended, then `line` unless it is left out.
  std::vector<std::string> submit(std::string_view kind, std::string line, Clock::time_point now);
  // The summaries of every window that ended by `now` (with `all`, of every
  // window, e.g. when the daemon exits).
  std::vector<std::string> flush(Clock::time_point now, bool all = false);
  // When the earliest window with lines left out ends, if any.
  std::optional<Clock::time_point> next_flush() const;

 private:
  struct Kind {
    Clock::time_point window_start;
    std::size_t printed = 0;
    std::size_t left_out = 0;
    std::string last;  // the last line left out
  };
  std::optional<std::string> close_window(Kind& k, Clock::time_point now, bool force);

  std::size_t burst_;
  Clock::duration window_;
  std::map<std::string, Kind, std::less<>> kinds_;
};

}  // namespace svedbg::gdbstub
