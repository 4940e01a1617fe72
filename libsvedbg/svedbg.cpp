// libsvedbg: wires kvm::InProcessBackend, introspect::GuestTarget and
// gdbstub::Server (see svedbg.hpp).
#include "libsvedbg/svedbg.hpp"

#include <cstdio>
#include <thread>
#include <utility>

#include "gdbstub/transport.hpp"
#include "introspect/guest_target.hpp"
#include "kvm/inprocess/inprocess_backend.hpp"

namespace svedbg::lib {

struct DebugServer::Impl {
  Options options;
  std::unique_ptr<kvm::InProcessBackend> backend;
  std::unique_ptr<introspect::GuestTarget> target;
  std::unique_ptr<gdbstub::Server> server;
  gdbstub::ListenSpec spec;
  std::thread thread;
  bool started = false;
};

Result<std::unique_ptr<DebugServer>> DebugServer::create(std::vector<Vcpu> vcpus, std::vector<MemoryRegion> memory,
                                                         Options options) {
  auto impl = std::make_unique<Impl>();
  auto spec = gdbstub::parse_listen_spec(options.listen);
  if (!spec) return spec.error();
  impl->spec = *spec;
  auto tdesc = introspect::parse_tdesc_vl(options.tdesc_vl);
  if (!tdesc) return tdesc.error();

  std::vector<kvm::GateVcpu> gate_vcpus;
  for (const auto& v : vcpus) {
    if (v.fd < 0 || v.run == nullptr) return make_error(EINVAL, "vCPU {}: no fd or kvm_run mapping", gate_vcpus.size());
    gate_vcpus.push_back(kvm::GateVcpu{v.fd, v.run});
  }
  kvm::InProcessOptions bopts;
  bopts.kick_signal = options.kick_signal;
  bopts.hold_at_start = options.wait_for_gdb;
  bopts.on_kill = options.on_kill;
  bopts.log = options.log;
  std::vector<kvm::MemoryRegion> regions;
  for (const auto& m : memory) regions.push_back(kvm::MemoryRegion{m.gpa, m.hva, m.size});
  auto backend = kvm::InProcessBackend::create(std::move(gate_vcpus), std::move(regions), std::move(bopts));
  if (!backend) return backend.error();
  impl->backend = std::move(*backend);
  auto target = introspect::GuestTarget::create(*impl->backend, introspect::GuestOptions{*tdesc});
  if (!target) return target.error();
  impl->target = std::move(*target);
  gdbstub::ServerOptions server_options;
  server_options.access.allow_unauthenticated = options.allow_remote_unauthenticated;
  impl->server = std::make_unique<gdbstub::Server>(*impl->target, gdbstub::SessionOptions{}, server_options);
  if (options.log) impl->server->set_logger(options.log);
  impl->options = std::move(options);
  return std::unique_ptr<DebugServer>(new DebugServer(std::move(impl)));
}

DebugServer::DebugServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DebugServer::~DebugServer() { stop(); }

void DebugServer::before_run(unsigned vcpu) { impl_->backend->gate().before_run(vcpu); }
bool DebugServer::on_exit(unsigned vcpu, int run_errno) { return impl_->backend->gate().on_exit(vcpu, run_errno); }
void DebugServer::vcpu_exited(unsigned vcpu) { impl_->backend->gate().thread_exited(vcpu); }

Status DebugServer::start() {
  if (impl_->started) return make_error(EALREADY, "the debug server is already started");
  if (auto s = impl_->server->listen(impl_->spec); !s) return s;
  impl_->started = true;
  impl_->thread = std::thread([this] { impl_->server->run(); });
  return {};
}

std::string DebugServer::address() const { return impl_->server->bound().to_string(); }

void DebugServer::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
  impl_->backend->detach();
}

}  // namespace svedbg::lib
