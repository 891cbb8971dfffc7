#include "backend/registry.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/reference_backend.h"

namespace edgeinfer {

const Backend* FindBackend(const std::string& name) {
  if (name == "cpu") return GetCpuBackend();
  if (name == "reference") return GetReferenceBackend();
  return nullptr;
}

std::vector<std::string> BackendNames() { return {"cpu", "reference"}; }

}  // namespace edgeinfer
