// A VMM's first contact with libsvedbg, built against the installed headers
// and library only (tests/install/check-consumers): DebugServer::create()
// links the whole stub, and a vCPU without an fd is refused with EINVAL.
#include <cerrno>
#include <cstdio>

#include "libsvedbg/svedbg.hpp"

int main() {
  svedbg::lib::Options options;
  options.listen = "127.0.0.1:0";
  auto server = svedbg::lib::DebugServer::create({svedbg::lib::Vcpu{}}, {}, options);
  if (server) {
    std::puts("consumer: DebugServer::create accepted a vCPU without an fd");
    return 1;
  }
  std::printf("consumer: libsvedbg refused a vCPU without an fd: %s\n", server.error().message.c_str());
  return server.error().code == EINVAL ? 0 : 1;
}
