#include "net/memory_policy.h"

#include <climits>  // first: it defines __GLIBC__, tested below

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace edgeinfer::net {

bool RetainLargeAllocations() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  bool ok = mallopt(M_MMAP_MAX, 0) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 && ok;
  ok = mallopt(M_ARENA_MAX, 1) == 1 && ok;
  return ok;
#else
  // AddressSanitizer replaces malloc and ignores mallopt; other C libraries have no such knobs.
  return true;
#endif
}

}  // namespace edgeinfer::net
