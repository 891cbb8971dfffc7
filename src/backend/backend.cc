#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/reference_backend.h"

namespace edgeinfer {

const Backend* FindBackend(const std::string& name) {
  if (name == "cpu") return GetCpuBackend();
  if (name == "reference") return GetReferenceBackend();
  return nullptr;
}

}  // namespace edgeinfer
