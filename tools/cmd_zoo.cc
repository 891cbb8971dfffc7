// Placeholder: 'edgeinfer zoo' lands with its implementation.
#include <cstdio>

#include "commands.h"

namespace edgeinfer::tools {

int ZooCommand(int, char**) {
  std::fprintf(stderr, "edgeinfer zoo: not implemented yet\n");
  return 1;
}

}  // namespace edgeinfer::tools
