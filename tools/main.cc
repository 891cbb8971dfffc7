// edgeinfer: one binary, subcommands.
#include <cstdio>
#include <cstring>
#include <string>

#include "backend/cpu/openmp_env.h"
#include "commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*fn)(int, char**);
  const char* summary;
};

const Subcommand kSubcommands[] = {
    {"run", edgeinfer::tools::RunCommand, "run an ONNX model and print outputs and latency"},
    {"profile", edgeinfer::tools::ProfileCommand, "per-node latency table of an ONNX model"},
    {"zoo", edgeinfer::tools::ZooCommand, "write a standard architecture as an ONNX file"},
    {"serve", edgeinfer::tools::ServeCommand, "edge server: KServe v2 / Triton gRPC and HTTP"},
    {"plan", edgeinfer::tools::PlanCommand, "predicted latency of every split cut; the choice"},
    {"linkem", edgeinfer::tools::LinkemCommand, "TCP relay emulating a link: rate, delay, trace"},
    {"cuda-run", edgeinfer::tools::CudaRunCommand, "run a CUDA program on a remoting server"},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: edgeinfer <command> [options]\n\ncommands:\n");
  for (const Subcommand& c : kSubcommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'edgeinfer <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // A server shares its cores between concurrent requests: its idle OpenMP workers sleep at
  // once. Everything else spins briefly when the machine is idle at start (openmp_env.h).
  edgeinfer::ConfigureOpenMpWait(argv, argc >= 2 && std::strcmp(argv[1], "serve") == 0
                                           ? edgeinfer::OpenMpWait::kPassive
                                           : edgeinfer::OpenMpWait::kAuto);
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const Subcommand& c : kSubcommands) {
    if (cmd == c.name) return c.fn(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "edgeinfer: unknown command '%s'\n\n", cmd.c_str());
  PrintUsage(stderr);
  return 2;
}
