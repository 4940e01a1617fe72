// `svedbg ps`: the KVM VMMs on this host (kvm/scan/), with --vl each
// vCPU's vector lengths (arm64 builds: read by attaching for a moment).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kvm/scan/ps_json.hpp"
#include "kvm/scan/ps_text.hpp"
#include "kvm/scan/vcpu_inspect.hpp"
#include "kvm/scan/vmm_find.hpp"
#include "tools/svedbg_cli.hpp"
#if defined(__aarch64__)
#include "kvm/attach/attach_backend.hpp"
#endif

namespace svedbg::cli {

namespace {

// `svedbg ps`: the KVM VMMs on this host (kvm/scan/).
struct PsArgs {
  bool vl = false;
  bool json = false;
  std::string proc_root = "/proc";
  std::string debugfs_root = "/sys/kernel/debug";
};

#if defined(__aarch64__)
// kvm::AttachedVcpu (kvm/attach/attach_backend.hpp) as the scan's VcpuVl.
kvm::VcpuVl to_vcpu_vl(const kvm::AttachedVcpu& a) {
  kvm::VcpuVl v;
  v.id = a.id;
  if (a.thread > 0) v.tid = a.thread;
  v.sve = a.vls.has_value();
  if (a.vls) v.vls = *a.vls;
  if (a.vls && !a.effective_vq) v.error = "ZCR_EL1 not readable";
  if (a.effective_vq) v.effective_vq = *a.effective_vq;
  return v;
}

// `ps --vl` on arm64: attaches as `serve --pid` does (the VMM stops for a
// moment), takes AttachBackend::vcpus_info() and detaches, leaving the VMM
// running as it was. The backend learns which thread runs a vCPU when it
// stops that thread in KVM_RUN; when attach()'s stop did not tell, the VMM
// is let go and stopped once more, as for each new gdb client (detach,
// interrupt), which does.
Result<std::vector<kvm::VcpuVl>> inspect_by_attach(pid_t pid) {
  kvm::AttachOptions options;
  options.log = [](const std::string&) {};  // e.g. "guest RAM not found": not ps's business
  auto attached = kvm::AttachBackend::attach(pid, std::move(options));
  if (!attached) return attached.error();
  kvm::AttachBackend& b = **attached;
  auto info = b.vcpus_info();
  const bool unknown = std::any_of(info.begin(), info.end(), [](const kvm::AttachedVcpu& a) { return a.thread == 0; });
  if (unknown) {
    b.detach();
    b.interrupt();
    if (b.poll_stop()) {
      const auto again = b.vcpus_info();
      for (std::size_t i = 0; i < info.size() && i < again.size(); ++i)
        if (again[i].id == info[i].id && info[i].thread == 0) info[i].thread = again[i].thread;
    }
  }
  b.detach();
  std::vector<kvm::VcpuVl> out;
  for (const auto& a : info) out.push_back(to_vcpu_vl(a));
  return out;
}
#endif

int ps(const PsArgs& a) {
  if (a.vl && a.proc_root != "/proc") {
    std::fprintf(stderr, "svedbg ps: --vl attaches to the host's processes; it does not go with --proc-root\n");
    return 2;
  }
  kvm::ScanOptions options;
  options.proc_root = a.proc_root;
  options.debugfs_root = a.debugfs_root;
  auto scan = kvm::scan_vmms(options);
  if (!scan) {
    std::fprintf(stderr, "svedbg ps: %s\n", scan.error().message.c_str());
    return 1;
  }
  kvm::VcpuInspector inspect;
#if defined(__aarch64__)
  inspect = inspect_by_attach;
#endif
  scan->vl_supported = static_cast<bool>(inspect);
  if (a.vl) {
    if (!inspect)
      scan->vl_note = "--vl: vector lengths are arm64 SVE state; this build of svedbg lists VMMs without them";
    kvm::merge_vector_lengths(*scan, inspect);
  }
  const std::string text = a.json ? kvm::format_json(*scan) : kvm::format_text(*scan);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

class PsCommand : public Subcommand {
 public:
  explicit PsCommand(CLI::App& parent) {
    app = parent.add_subcommand(
        "ps",
        "List the KVM VMMs you may inspect: pid, command, VM fd, vCPU fds and the thread running each vCPU, read "
        "from /proc without stopping anything; with --vl also each vCPU's vector lengths");
    app->add_flag("--vl", args_.vl,
                  "Also read each vCPU's VLS and effective VL: attaches to each VMM in turn with ptrace (as serve "
                  "--pid), which STOPS it for a moment (injected KVM_GET_ONE_REG; a second moment when the first "
                  "did not tell which thread runs each vCPU), then detaches; it runs on unchanged. A VMM that "
                  "cannot be attached (already traced, no rights) shows the reason");
    app->add_flag("--json", args_.json, "Print JSON for scripts (fields below)");
    app->add_option("--proc-root", args_.proc_root, "Read this tree instead of /proc (tests)")->group("");
    app->add_option("--debugfs-root", args_.debugfs_root, "Read KVM's debugfs under this tree (tests)")->group("");
    app->footer(kvm::kPsJsonHelp);
  }
  int run() override { return ps(args_); }

 private:
  PsArgs args_;
};

}  // namespace

std::unique_ptr<Subcommand> add_ps(CLI::App& app) { return std::make_unique<PsCommand>(app); }

}  // namespace svedbg::cli
