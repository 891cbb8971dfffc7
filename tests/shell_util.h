// Running a shell command from a test and capturing what it printed.
#ifndef EDGEINFER_TESTS_SHELL_UTIL_H_
#define EDGEINFER_TESTS_SHELL_UTIL_H_

#include <string>

namespace edgeinfer::testing {

// Exit code (-1 when killed by a signal, i.e. a crash) and stdout+stderr of a shell command.
struct Outcome {
  int exit_code = -1;
  std::string output;
};
Outcome Shell(const std::string& command);

}  // namespace edgeinfer::testing

#endif  // EDGEINFER_TESTS_SHELL_UTIL_H_
