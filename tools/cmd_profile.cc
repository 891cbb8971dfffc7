// Placeholder: 'edgeinfer profile' lands with its implementation.
#include <cstdio>

#include "commands.h"

namespace edgeinfer::tools {

int ProfileCommand(int, char**) {
  std::fprintf(stderr, "edgeinfer profile: not implemented yet\n");
  return 1;
}

}  // namespace edgeinfer::tools
