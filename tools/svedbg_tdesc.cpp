// svedbg-tdesc: print the generated AArch64 GDB target description.
//
//   svedbg-tdesc [--sve|--fpu] [--vq N]
//
// --sve (the default) prints the SVE description for vector length N
// quadwords (N = 1..16, default 1); --fpu prints the FP/SIMD description (no
// SVE; --vq is then not allowed). Used to produce tests/golden/tdesc-*.xml and
// by tests/xml/check-with-gdb. Exit status: 0 on success, 2 on bad usage.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "xml-targets/tdesc.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Print svedbg's AArch64 GDB target description (target.xml) to stdout"};
  bool sve = false;
  bool fpu = false;
  unsigned vq = 1;
  auto* sve_opt = app.add_flag("--sve", sve, "SVE description: z0-z31, p0-p15, ffr, vg (default)");
  auto* fpu_opt = app.add_flag("--fpu", fpu, "FP/SIMD description without SVE: v0-v31");
  auto* vq_opt = app.add_option("--vq", vq, "SVE vector length in 128-bit quadwords (1..16)");
  sve_opt->excludes(fpu_opt);
  fpu_opt->excludes(vq_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!fpu) {
    if (auto st = svedbg::xml::check_vq(vq); !st) {
      fmt::print(stderr, "svedbg-tdesc: {}\n", st.error().message);
      return 2;
    }
  }
  const std::string& xml = svedbg::xml::target_xml(!fpu, vq);
  std::fwrite(xml.data(), 1, xml.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
