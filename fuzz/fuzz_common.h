// Shared by the fuzz targets (fuzz/*_fuzz.cc): the libFuzzer entry point each defines, and the
// limits every target passes to the code under test, so that a finding is a bug and not an
// allocation the limits allow.
#ifndef EDGEINFER_FUZZ_FUZZ_COMMON_H_
#define EDGEINFER_FUZZ_FUZZ_COMMON_H_

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace edgeinfer::fuzz {
// Largest tensor a target lets the code under test allocate.
inline constexpr size_t kMaxTensorBytes = size_t{16} << 20;
// Drops protobuf's log lines (one per input with invalid UTF-8 in a string: millions in a
// fuzzing run). Call once, from a target that parses protobuf.
void QuietProtobuf();
}  // namespace edgeinfer::fuzz

#endif  // EDGEINFER_FUZZ_FUZZ_COMMON_H_
