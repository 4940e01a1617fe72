// introspect::sim_fixture_text(): the simulated guest's documented fixture.
//
// Contract: the one description of what `svedbg serve --sim` (SimBackend
// with setup, default SimConfig) serves, for users to check what gdb shows:
// `svedbg serve --sim --help` prints it and README.md quotes it verbatim
// (a unit test compares the two). SimBackend's code is what produces the
// values; its unit tests check them against the formulas stated here.
#pragma once

#include <string_view>

namespace svedbg::introspect {

std::string_view sim_fixture_text();

}  // namespace svedbg::introspect
