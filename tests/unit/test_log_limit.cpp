#include <catch2/catch.hpp>

#include "gdbstub/log_limit.hpp"

using svedbg::gdbstub::LogLimiter;
using namespace std::chrono_literals;

TEST_CASE("log limit: a burst per kind and window, then one summary line", "[unit]") {
  LogLimiter limit(2, 10s);
  const auto t0 = LogLimiter::Clock::time_point{} + 100s;
  CHECK(limit.submit("refuse", "refusing a", t0) == std::vector<std::string>{"refusing a"});
  CHECK(limit.submit("refuse", "refusing b", t0 + 1s) == std::vector<std::string>{"refusing b"});
  CHECK(limit.next_flush() == std::nullopt);
  for (int i = 0; i < 1000; ++i) CHECK(limit.submit("refuse", "refusing c", t0 + 2s).empty());
  // Another kind has its own burst.
  CHECK(limit.submit("drop", "dropped", t0 + 2s) == std::vector<std::string>{"dropped"});
  CHECK(limit.next_flush() == t0 + 10s);
  CHECK(limit.flush(t0 + 9s).empty());
  CHECK(limit.flush(t0 + 10s) == std::vector<std::string>{"... 1000 similar lines left out, the last: refusing c"});
  CHECK(limit.next_flush() == std::nullopt);
  // A new window: the burst again.
  CHECK(limit.submit("refuse", "refusing d", t0 + 11s) == std::vector<std::string>{"refusing d"});
  CHECK(limit.submit("refuse", "refusing e", t0 + 11s) == std::vector<std::string>{"refusing e"});
  CHECK(limit.submit("refuse", "refusing f", t0 + 12s).empty());
  CHECK(limit.flush(t0 + 12s).empty());
  CHECK(limit.flush(t0 + 12s, true) == std::vector<std::string>{"... 1 similar line left out, the last: refusing f"});
}

TEST_CASE("log limit: the summary comes with the next line when nobody flushed", "[unit]") {
  LogLimiter limit(1, 10s);
  const auto t0 = LogLimiter::Clock::time_point{} + 100s;
  CHECK(limit.submit("x", "one", t0).size() == 1);
  CHECK(limit.submit("x", "two", t0).empty());
  CHECK(limit.submit("x", "three", t0 + 30s) ==
        std::vector<std::string>{"... 1 similar line left out, the last: two", "three"});
}
