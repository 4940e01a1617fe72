// kvm/attach/stop_watcher: a helper thread that tells when a traced
// thread has something to report, without taking the report.
//
// Why: ptrace's rule is that only the tracer thread may wait for and
// handle a tracee's stops, but the daemon's event loop must hear of a stop
// while its tracer thread sleeps. The watcher polls waitid(P_ALL, WEXITED |
// WSTOPPED | WNOHANG | WNOWAIT | __WALL) every 2 ms while armed: WNOWAIT
// leaves the event for the tracer's own waitpid (wait(2)).
//
// Contract: arm(true) starts watching; the first event seen disarms it and
// runs the notifier (on the watcher thread, without holding the lock; an
// empty notifier does nothing). arm(false) stops watching. The destructor
// stops and joins the thread. Any thread may call every member.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace svedbg::kvm {

class StopWatcher {
 public:
  StopWatcher();
  ~StopWatcher();
  StopWatcher(const StopWatcher&) = delete;
  StopWatcher& operator=(const StopWatcher&) = delete;

  void arm(bool on);
  void set_notifier(std::function<void()> notify);

 private:
  void watch();

  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, quit_ = false;
  std::function<void()> notify_;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace svedbg::kvm
