// Process-wide allocator policy for moving large tensors.
//
// Why: glibc serves every allocation over 32 MiB (the ceiling of its dynamic mmap threshold)
// with a fresh mmap and returns it with munmap on free, so each large protobuf string, gRPC
// slice or tensor buffer is faulted in page by page again on every request. On a paravirtual
// VM a fault costs ~15 us: a fresh 50 MB buffer then takes ~200 ms to touch against ~2 ms for a
// warm one, and a 50 MB round trip copies into six such buffers (measured in docs/benchmarks.md).
#ifndef EDGEINFER_NET_MEMORY_POLICY_H_
#define EDGEINFER_NET_MEMORY_POLICY_H_

namespace edgeinfer::net {

// Makes the process keep and reuse the memory of freed large buffers: no mmap for single
// allocations, one malloc arena (memory freed in a thread's own arena heap would be unmapped
// when that heap empties), and no trimming of the heap top. The cost is that the process keeps
// its peak heap size until exit, which suits a server and a command-line run; a library does
// not call this on its own. Call once at the start of main, before threads exist. Idempotent;
// a no-op where the C library is not glibc. Returns false if the C library refused a setting.
bool RetainLargeAllocations();

}  // namespace edgeinfer::net

#endif  // EDGEINFER_NET_MEMORY_POLICY_H_
