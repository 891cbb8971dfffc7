// The backends built into this binary, by name. The registry sits above every backend (it links
// them all); code that runs models (runtime, server) finds a backend here and uses it through
// the Backend interface of backend/backend.h only.
#ifndef EDGEINFER_BACKEND_REGISTRY_H_
#define EDGEINFER_BACKEND_REGISTRY_H_

#include <string>
#include <vector>

#include "backend/backend.h"

namespace edgeinfer {

// "cpu" (oneDNN, always present) or "reference" (naive kernels, for tests). nullptr otherwise.
// The returned backend lives for the whole process and is thread safe.
const Backend* FindBackend(const std::string& name);

// The names FindBackend accepts, for help texts and errors.
std::vector<std::string> BackendNames();

}  // namespace edgeinfer

#endif  // EDGEINFER_BACKEND_REGISTRY_H_
