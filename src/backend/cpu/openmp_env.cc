#include "backend/cpu/openmp_env.h"

#include <unistd.h>

#include <cstdlib>

namespace edgeinfer {

void ReexecWithPassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) {
    return;
  }
  // The child sees the variable set, so it never re-executes again.
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): run on with libgomp's defaults; the variable now set is
  // harmless to this process and its children.
}

}  // namespace edgeinfer
