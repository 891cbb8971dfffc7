// Content identity of uploaded models (shared by the device client and the edge server): the
// "sha256-<16 hex>" model-name convention over core/sha256.h.
//
// A device client names a model it uploads by the hash of its bytes, so that it can ask
// ModelReady before sending anything and never sends the same model twice (docs/protocol.md).
#ifndef EDGEINFER_NET_MODEL_HASH_H_
#define EDGEINFER_NET_MODEL_HASH_H_

#include <string>
#include <string_view>

namespace edgeinfer::net {

// "sha256-" followed by the first 16 hex characters of Sha256Hex(bytes).
std::string ContentModelName(std::string_view bytes);

// True when `name` has the form of a content model name (it may still name other bytes).
bool IsContentModelName(std::string_view name);

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_MODEL_HASH_H_
