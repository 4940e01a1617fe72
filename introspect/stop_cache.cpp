#include "introspect/stop_cache.hpp"

#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

Result<const Bytes*> StopCache::get(unsigned vcpu, std::uint64_t id) {
  auto key = std::make_pair(vcpu, id);
  if (auto it = values_.find(key); it != values_.end()) return &it->second;
  Bytes value(kvm::reg_size(id));
  ++fetches_;
  auto st = backend_.get_one_reg(vcpu, id, value);
  if (!st) return st.error();
  return &values_.emplace(key, std::move(value)).first->second;
}

Status StopCache::set(unsigned vcpu, std::uint64_t id, std::span<const std::byte> value) {
  auto st = backend_.set_one_reg(vcpu, id, value);
  if (!st) return st;
  values_[std::make_pair(vcpu, id)] = Bytes(value.begin(), value.end());
  return {};
}

}  // namespace svedbg::introspect
