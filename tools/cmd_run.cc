// Placeholder: 'edgeinfer run' lands with its implementation.
#include <cstdio>

#include "commands.h"

namespace edgeinfer::tools {

int RunCommand(int, char**) {
  std::fprintf(stderr, "edgeinfer run: not implemented yet\n");
  return 1;
}

}  // namespace edgeinfer::tools
