// SVE vector-length sets (see vls.hpp).
#include "kvm/vls.hpp"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "kvm/reg_id.hpp"

namespace svedbg::kvm {
namespace {
constexpr bool in_range(unsigned vq) { return vq >= kSveVqMin && vq <= kSveVqMax; }
}  // namespace

bool VqSet::has(unsigned vq) const {
  if (!in_range(vq)) return false;
  return (words[(vq - 1) / 64] >> ((vq - 1) % 64)) & 1U;
}

void VqSet::set(unsigned vq) {
  if (in_range(vq)) words[(vq - 1) / 64] |= std::uint64_t{1} << ((vq - 1) % 64);
}

void VqSet::clear(unsigned vq) {
  if (in_range(vq)) words[(vq - 1) / 64] &= ~(std::uint64_t{1} << ((vq - 1) % 64));
}

unsigned VqSet::max() const {
  for (unsigned w = words.size(); w-- > 0;)
    if (words[w] != 0) return w * 64 + (64 - static_cast<unsigned>(std::countl_zero(words[w])));
  return 0;
}

unsigned VqSet::min() const {
  for (unsigned w = 0; w < words.size(); ++w)
    if (words[w] != 0) return w * 64 + static_cast<unsigned>(std::countr_zero(words[w])) + 1;
  return 0;
}

std::vector<unsigned> VqSet::list() const {
  std::vector<unsigned> out;
  for (unsigned vq = kSveVqMin; vq <= kSveVqMax; ++vq)
    if (has(vq)) out.push_back(vq);
  return out;
}

std::size_t VqSet::count() const {
  std::size_t n = 0;
  for (auto w : words) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

bool VqSet::empty() const {
  return std::all_of(words.begin(), words.end(), [](std::uint64_t w) { return w == 0; });
}

VqSet VqSet::range(unsigned lo, unsigned hi) {
  VqSet s;
  for (unsigned vq = std::max(lo, kSveVqMin); vq <= std::min(hi, kSveVqMax); ++vq) s.set(vq);
  return s;
}

std::string VqSet::to_string() const {
  const auto vqs = list();
  if (vqs.empty()) return "none";
  std::string out;
  for (std::size_t i = 0; i < vqs.size();) {
    std::size_t j = i;
    while (j + 1 < vqs.size() && vqs[j + 1] == vqs[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (j - i >= 2) {
      out += fmt::format("{}-{}", vqs[i] * 128, vqs[j] * 128);
      i = j + 1;
    } else {
      out += fmt::format("{}", vqs[i] * 128);
      ++i;
    }
  }
  return out + " bits";
}

void VqSet::to_bytes(std::span<std::byte, 64> out) const {
  for (std::size_t w = 0; w < words.size(); ++w)
    for (std::size_t b = 0; b < 8; ++b) out[w * 8 + b] = static_cast<std::byte>((words[w] >> (8 * b)) & 0xff);
}

VqSet VqSet::from_bytes(std::span<const std::byte, 64> in) {
  VqSet s;
  for (std::size_t w = 0; w < s.words.size(); ++w)
    for (std::size_t b = 0; b < 8; ++b)
      s.words[w] |= static_cast<std::uint64_t>(std::to_integer<unsigned>(in[w * 8 + b])) << (8 * b);
  return s;
}

unsigned effective_vq(const VqSet& enabled, std::uint64_t zcr_el1) {
  const unsigned requested = static_cast<unsigned>(zcr_el1 & kZcrLenMask) + 1;
  for (unsigned vq = requested; vq >= kSveVqMin; --vq)
    if (enabled.has(vq)) return vq;
  return enabled.min();
}

std::uint64_t zcr_for_vq(unsigned vq) {
  const unsigned clamped = std::clamp(vq, 1U, 16U);
  return clamped - 1;
}

}  // namespace svedbg::kvm
