// Placeholder subcommands until their implementations land (replaced file by file).
#include <cstdio>

#include "commands.h"

namespace edgeinfer::tools {

int RunCommand(int, char**) { std::fprintf(stderr, "run: not built yet\n"); return 1; }
int ProfileCommand(int, char**) { std::fprintf(stderr, "profile: not built yet\n"); return 1; }
int ZooCommand(int, char**) { std::fprintf(stderr, "zoo: not built yet\n"); return 1; }

}  // namespace edgeinfer::tools
