// The stop watcher thread (see stop_watcher.hpp).
#include "kvm/attach/stop_watcher.hpp"

#include <sys/wait.h>

#include <chrono>

namespace svedbg::kvm {

StopWatcher::StopWatcher() : thread_([this] { watch(); }) {}

StopWatcher::~StopWatcher() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StopWatcher::arm(bool on) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    armed_ = on;
  }
  cv_.notify_all();
}

void StopWatcher::set_notifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lk(mu_);
  notify_ = std::move(notify);
}

void StopWatcher::watch() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return armed_ || quit_; });
    if (quit_) return;
    lk.unlock();
    siginfo_t si{};
    const int r = ::waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL);
    lk.lock();
    if (r == 0 && si.si_pid != 0 && armed_) {
      armed_ = false;
      auto n = notify_;
      lk.unlock();
      if (n) n();
      lk.lock();
      continue;
    }
    cv_.wait_for(lk, std::chrono::milliseconds(2), [&] { return quit_; });
  }
}

}  // namespace svedbg::kvm
