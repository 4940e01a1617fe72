#include "kvm/attach/inject_batch.hpp"

#include <cstring>

#include "kvm/one_reg.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::kvm::batch {
namespace {

void put_u64(std::vector<std::byte>& out, std::size_t at, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) out[at + i] = static_cast<std::byte>(v >> (8 * i));
}

std::uint64_t get_u64(std::span<const std::byte> in, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(in[at + i])) << (8 * i);
  return v;
}

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

}  // namespace

std::array<std::byte, 4 * kLoopCode.size()> code_bytes() {
  std::array<std::byte, 4 * kLoopCode.size()> out{};
  for (std::size_t w = 0; w < kLoopCode.size(); ++w)
    for (std::size_t i = 0; i < 4; ++i) out[4 * w + i] = static_cast<std::byte>(kLoopCode[w] >> (8 * i));
  return out;
}

Plan plan(std::uint64_t table, std::size_t room, std::span<const Call> calls) {
  Plan p;
  p.table = table;
  // Each call takes an entry and an 8-aligned value slot.
  std::size_t used = 0;
  while (p.count < calls.size()) {
    const std::size_t need = kEntryBytes + align8(calls[p.count].size);
    if (used + need > room) break;
    used += need;
    ++p.count;
  }
  p.table_bytes.assign(p.count * kEntryBytes, std::byte{0});
  std::size_t value = p.count * kEntryBytes;  // offset from the table
  for (std::size_t i = 0; i < p.count; ++i) {
    const std::size_t e = i * kEntryBytes;
    put_u64(p.table_bytes, e + offsetof(Entry, fd), static_cast<std::uint64_t>(static_cast<std::int64_t>(calls[i].fd)));
    put_u64(p.table_bytes, e + offsetof(Entry, request), kKvmGetOneReg);
    put_u64(p.table_bytes, e + offsetof(Entry, arg), p.table + e + offsetof(Entry, id));
    put_u64(p.table_bytes, e + offsetof(Entry, result), static_cast<std::uint64_t>(kNotRun));
    put_u64(p.table_bytes, e + offsetof(Entry, id), calls[i].id);
    put_u64(p.table_bytes, e + offsetof(Entry, addr), p.table + value);
    p.value_offset.push_back(value);
    p.value_size.push_back(calls[i].size);
    value += align8(calls[i].size);
  }
  p.read_bytes = value;
  return p;
}

std::int64_t result_of(std::span<const std::byte> readback, std::size_t i) {
  const std::size_t at = i * kEntryBytes + offsetof(Entry, result);
  if (at + 8 > readback.size()) return kNotRun;
  return static_cast<std::int64_t>(get_u64(readback, at));
}

std::span<const std::byte> value_of(const Plan& plan, std::span<const std::byte> readback, std::size_t i) {
  if (i >= plan.count || plan.value_offset[i] + plan.value_size[i] > readback.size()) return {};
  return readback.subspan(plan.value_offset[i], plan.value_size[i]);
}

Status status_of(std::int64_t result, unsigned vcpu, std::uint64_t id) {
  if (result == 0) return {};
  if (result < 0 && result >= -4095) return one_reg_error(vcpu, id, false, static_cast<int>(-result));
  return make_error(EIO, "vCPU {}: {}: the batch loop in the VMM did not run KVM_GET_ONE_REG for it", vcpu,
                    reg_name(id));
}

}  // namespace svedbg::kvm::batch
