// common/monitor.hpp: commands as data, matched by their leading words.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "common/monitor.hpp"

using namespace svedbg;

namespace {

MonitorCommand echo(std::string name, std::string args = "", bool changes = false) {
  return {name, std::move(args), "help of " + name, changes,
          [name](std::string_view a) -> Result<std::string> { return name + "|" + std::string(a); }};
}

std::string run(const MonitorRegistry& r, std::string_view line) {
  auto m = r.find(line);
  if (!m) return "none";
  auto out = m->command->run(m->args);
  return out ? *out : "error";
}

}  // namespace

TEST_CASE("a line runs the command whose words it starts with, the longest name winning", "[monitor]") {
  MonitorRegistry r;
  r.add(echo("attach"));
  r.add(echo("attach batch", "on|off"));
  r.add(echo("translate", "ADDR"));
  CHECK(run(r, "attach") == "attach|");
  CHECK(run(r, "  attach \n") == "attach|");
  CHECK(run(r, "attach batch on") == "attach batch|on");
  CHECK(run(r, "attach\tbatch   off ") == "attach batch|off");
  CHECK(run(r, "attach colocate on") == "attach|colocate on");  // the shorter name takes the rest
  CHECK(run(r, "translate 0x1000") == "translate|0x1000");
  // Words match whole: a name is not a prefix of a longer word.
  CHECK(run(r, "translated 1") == "none");
  CHECK(run(r, "attachbatch on") == "none");
  CHECK(run(r, "") == "none");
  CHECK(run(r, "frobnicate") == "none");
}

TEST_CASE("names are unique and not empty", "[monitor]") {
  MonitorRegistry r;
  r.add(echo("sim set-vl"));
  CHECK_THROWS_AS(r.add(echo("sim set-vl")), std::logic_error);
  CHECK_THROWS_AS(r.add(echo("  sim   set-vl ")), std::logic_error);  // the same words
  CHECK_THROWS_AS(r.add(echo("  ")), std::logic_error);
  REQUIRE(r.commands().size() == 1);
  CHECK(r.commands()[0].changes_guest == false);
}

TEST_CASE("help lists every command in order, aligned and wrapped", "[monitor]") {
  MonitorRegistry r;
  r.add({"vls", "", "each vCPU's enabled vector lengths and effective VL", false, {}});
  r.add({"attach colocate",
         "on|off",
         "svedbg and the VMM thread it injects on share one CPU during a stop (default), or run where the "
         "scheduler puts them",
         false,
         {}});
  CHECK(r.help() ==
        "monitor vls                   each vCPU's enabled vector lengths and effective VL\n"
        "monitor attach colocate on|off\n"
        "                              svedbg and the VMM thread it injects on share one CPU during a stop\n"
        "                              (default), or run where the scheduler puts them\n");
}

TEST_CASE("split_words drops every kind of blank", "[monitor]") {
  const auto w = split_words(" a\tbb \r\n ccc ");
  REQUIRE(w.size() == 3);
  CHECK(w[0] == "a");
  CHECK(w[1] == "bb");
  CHECK(w[2] == "ccc");
  CHECK(split_words("").empty());
  CHECK(split_words(" \t").empty());
}
