#include "introspect/stop_cache.hpp"

#include <algorithm>
#include <vector>

#include "common/le_bytes.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

Result<const Bytes*> StopCache::get(unsigned vcpu, std::uint64_t id) {
  auto key = std::make_pair(vcpu, id);
  if (auto it = values_.find(key); it != values_.end()) return &it->second;
  if (auto it = errors_.find(key); it != errors_.end()) return it->second;
  if (before_fetch_) before_fetch_();
  Bytes value(kvm::reg_size(id));
  ++fetches_;
  ++batches_;
  const auto t0 = std::chrono::steady_clock::now();
  auto st = backend_.get_one_reg(vcpu, id, value);
  backend_time_ += std::chrono::steady_clock::now() - t0;
  if (!st) {
    errors_.emplace(key, st.error());
    return st.error();
  }
  return &values_.emplace(key, std::move(value)).first->second;
}

void StopCache::prefetch(unsigned vcpu, std::span<const std::uint64_t> ids) {
  std::vector<Key> keys;
  keys.reserve(ids.size());
  for (std::uint64_t id : ids) keys.emplace_back(vcpu, id);
  prefetch(keys);
}

void StopCache::prefetch(std::span<const Key> regs) {
  std::vector<Key> wanted;
  for (const Key& key : regs) {
    if (values_.count(key) || errors_.count(key)) continue;
    if (std::find(wanted.begin(), wanted.end(), key) != wanted.end()) continue;
    wanted.push_back(key);
  }
  if (wanted.empty()) return;
  if (before_fetch_) before_fetch_();
  std::vector<Bytes> buffers;
  buffers.reserve(wanted.size());
  std::vector<kvm::Backend::RegRead> reads;
  reads.reserve(wanted.size());
  for (const auto& [vcpu, id] : wanted) {
    buffers.emplace_back(kvm::reg_size(id));
    reads.push_back(kvm::Backend::RegRead{vcpu, id, buffers.back(), {}});
  }
  fetches_ += wanted.size();
  ++batches_;
  const auto t0 = std::chrono::steady_clock::now();
  backend_.get_regs(reads);
  backend_time_ += std::chrono::steady_clock::now() - t0;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    if (reads[i].status)
      values_.emplace(wanted[i], std::move(buffers[i]));
    else
      errors_.emplace(wanted[i], reads[i].status.error());
  }
}

Status StopCache::set(unsigned vcpu, std::uint64_t id, std::span<const std::byte> value) {
  if (before_fetch_) before_fetch_();
  auto st = backend_.set_one_reg(vcpu, id, value);
  if (!st) return st;
  const auto key = std::make_pair(vcpu, id);
  errors_.erase(key);
  values_[key] = Bytes(value.begin(), value.end());
  return {};
}

Result<TranslationRegs> read_translation_regs(StopCache& cache, unsigned vcpu) {
  TranslationRegs regs{};
  const std::pair<std::uint64_t, std::uint64_t*> wanted[] = {{kvm::sctlr_el1(), &regs.sctlr_el1},
                                                             {kvm::tcr_el1(), &regs.tcr_el1},
                                                             {kvm::ttbr0_el1(), &regs.ttbr0_el1},
                                                             {kvm::ttbr1_el1(), &regs.ttbr1_el1}};
  const std::uint64_t ids[] = {wanted[0].first, wanted[1].first, wanted[2].first, wanted[3].first};
  cache.prefetch(vcpu, ids);
  for (const auto& [id, out] : wanted) {
    auto raw = cache.get(vcpu, id);
    if (!raw) return raw.error();
    *out = load_le<std::uint64_t>(**raw, 0);
  }
  return regs;
}

}  // namespace svedbg::introspect
