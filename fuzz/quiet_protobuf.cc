// edgeinfer::fuzz::QuietProtobuf (fuzz_common.h), linked into every fuzz executable.
#include <google/protobuf/stubs/logging.h>

#include "fuzz_common.h"

namespace edgeinfer::fuzz {

void QuietProtobuf() { google::protobuf::SetLogHandler(nullptr); }

}  // namespace edgeinfer::fuzz
