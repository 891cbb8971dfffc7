// SHA-256 (FIPS 180-4): the content identity of models (net/model_hash.h) and the key of
// cached profiles (planner/profile_cache.h). Pure and thread safe.
#ifndef EDGEINFER_CORE_SHA256_H_
#define EDGEINFER_CORE_SHA256_H_

#include <string>
#include <string_view>

namespace edgeinfer {

// Lower-case hex SHA-256 of `bytes`: 64 characters.
std::string Sha256Hex(std::string_view bytes);

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_SHA256_H_
