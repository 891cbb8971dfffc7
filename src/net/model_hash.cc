#include "net/model_hash.h"

#include "core/sha256.h"

namespace edgeinfer::net {

std::string ContentModelName(std::string_view bytes) {
  return "sha256-" + Sha256Hex(bytes).substr(0, 16);
}

bool IsContentModelName(std::string_view name) {
  constexpr std::string_view kPrefix = "sha256-";
  if (name.size() != kPrefix.size() + 16 || name.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : name.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace edgeinfer::net
