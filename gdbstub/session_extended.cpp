// The extended-remote half of the Session (`serve --multi`): GDB manual,
// "Connecting to a Remote Target" (target extended-remote), "Packets" (`!`,
// vAttach, vKill, vRun, D) and "Operating System Information" (osdata).
// A session without a ProcessSlot (plain `serve`) answers these packets
// empty, as unsupported, exactly as before.
#include <fmt/format.h>

#include "gdbstub/errors.hpp"
#include "gdbstub/process_slot.hpp"
#include "gdbstub/session.hpp"

namespace svedbg::gdbstub {
namespace {

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

std::string osdata_item(std::initializer_list<std::pair<std::string_view, std::string>> columns) {
  std::string item = "<item>\n";
  for (const auto& [name, value] : columns)
    item += fmt::format("<column name=\"{}\">{}</column>\n", name, xml_escape(value));
  return item + "</item>\n";
}

constexpr std::string_view kOsdataHeader = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n";

// `info os`: the one type served ("Operating System Information": the
// "types" document lists Type, Description and Title).
std::string osdata_types() {
  return std::string(kOsdataHeader) + "<osdata type=\"types\">\n" +
         osdata_item({{"Type", "processes"}, {"Description", "KVM VMMs you may debug"}, {"Title", "Processes"}}) +
         "</osdata>\n";
}

}  // namespace

// `info os processes`: the VMMs this peer may debug, in gdbserver's columns
// (pid, user, command) plus vcpus and who has each attached.
Session::Reply Session::osdata(const req::XferRead& r) {
  if (r.offset == 0) {
    if (r.annex.empty()) {
      osdata_document_ = osdata_types();
    } else if (r.annex == "processes") {
      auto rows = multi_->visible_processes();
      if (!rows) return error_reply_text(rows.error());
      std::string doc = std::string(kOsdataHeader) + "<osdata type=\"processes\">\n";
      for (const auto& p : *rows) {
        std::string held = multi_->holder(p.pid);
        doc += osdata_item({{"pid", std::to_string(p.pid)},
                            {"user", user_name(p.uid)},
                            {"command", p.command},
                            {"vcpus", std::to_string(p.vcpus)},
                            {"attached", held.empty() ? "-" : held}});
      }
      osdata_document_ = doc + "</osdata>\n";
    } else {
      return error_reply(ENOENT);
    }
  }
  return xfer_chunk(osdata_document_, r.offset, r.length);
}

Session::Reply Session::handle(const req::ExtendedMode&) {
  if (!multi_) return std::string{};
  extended_ = true;  // "Extended Remote": D now leaves the connection open
  return std::string("OK");
}

Session::Reply Session::handle(const req::AttachProcess& r) {
  if (!multi_) return std::string{};
  auto stop = multi_->attach_process(r.pid);
  // gdb 13 says "Attaching to process N failed" for any error reply; the
  // E.text names the reason for clients that show it, the log always does.
  if (!stop) return error_reply_text(stop.error());
  g_thread_ = stop->thread;
  c_thread_ = 0;
  return stop_reply(*stop);  // vAttach is answered with a stop reply
}

Session::Reply Session::handle(const req::RunProcess&) {
  if (!multi_) return std::string{};
  return error_reply_text(Error{EPERM,
                                "run refused: svedbg attaches to running VMMs and never starts programs; "
                                "`attach PID` (`info os processes` lists them)"});
}

Session::Reply Session::handle(const req::KillProcess& r) {
  if (!multi_) return std::string{};
  // gdb 13's `kill` sends vKill and says "Can't kill process" on an error.
  if (auto st = multi_->kill_process(r.pid); !st) return error_reply_text(st.error());
  return std::string("OK");
}

// Extended mode: D detaches the process and the session stays for another
// `attach` ("Extended Remote": "the remote server ... is not
// disconnected").
Session::Reply Session::detach_extended() {
  multi_->detach_process();
  g_thread_ = c_thread_ = 0;
  return std::string("OK");
}

// `k` has no reply; the slot refuses (and logs) unless kills are allowed.
// Without `!` the client hangs up after it, as after a plain `k`.
Session::Reply Session::kill_multi() {
  multi_->kill();
  if (!extended_) closed_ = true;
  return std::nullopt;
}

}  // namespace svedbg::gdbstub
