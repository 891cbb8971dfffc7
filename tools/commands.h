// Subcommands of the edgeinfer tool. Each takes the arguments after its name and returns the
// process exit code (0 success, 1 runtime error, 2 usage error). Errors go to stderr.
#ifndef EDGEINFER_TOOLS_COMMANDS_H_
#define EDGEINFER_TOOLS_COMMANDS_H_

namespace edgeinfer::tools {

int RunCommand(int argc, char** argv);      // edgeinfer run MODEL ...
int ProfileCommand(int argc, char** argv);  // edgeinfer profile MODEL ...
int ZooCommand(int argc, char** argv);      // edgeinfer zoo NAME -o FILE | --list
int ServeCommand(int argc, char** argv);    // edgeinfer serve [--repository DIR] ...
int PlanCommand(int argc, char** argv);     // edgeinfer plan MODEL --bandwidth RATE ...
int LinkemCommand(int argc, char** argv);   // edgeinfer linkem --to HOST:PORT ...
int CudaRunCommand(int argc, char** argv);  // edgeinfer cuda-run --edge HOST:PORT -- PROGRAM

class Args;
int PlanCollab(const Args& args);  // edgeinfer plan MODEL --collab SPEEDS (cmd_plan_collab.cc)

}  // namespace edgeinfer::tools

#endif  // EDGEINFER_TOOLS_COMMANDS_H_
