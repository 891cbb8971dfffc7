// Where a Session runs a model: the execution mode and, for split execution, the cut.
//
// A cut is where a model is divided between this device and an edge server: the device runs
// the nodes before the cut (the device part) and sends the tensors that cross it, the server
// runs the rest (the server part) and returns the model outputs. "Local" and "remote" are the
// two trivial cuts.
//
// Text forms (EDGEINFER_MODE, the command line's --mode, RunStats and reports) have one parser
// and one printer each, here:
//   mode:  local | remote | split:CUT | auto | auto-noload | collab
//   cut:   local | remote | split:N (the first N nodes in topological order on the device)
//          | split:NAME[,NAME...] (the device computes these tensors)
// so that a cut's text is also the text of the mode that runs at it. All functions are pure
// and thread safe.
#ifndef EDGEINFER_MODE_H_
#define EDGEINFER_MODE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer {

enum class ExecutionMode {
  kLocal,       // the whole model on this device
  kRemote,      // the whole model on the edge server
  kSplit,       // a fixed cut (SessionOptions::cut)
  kAuto,        // the cut chosen per request from bandwidth and the server's load (LoADPart)
  kAutoNoLoad,  // the same, ignoring the server's load (Neurosurgeon)
  // The whole model to an edge server that runs it as a collaborative host with its peers
  // (HALP: row bands of the convolutional front on several servers at once).
  kCollab,
};

// "local", "remote", "split", "auto", "auto-noload", "collab".
const char* ExecutionModeName(ExecutionMode mode);

class Cut {
 public:
  enum class Kind {
    kLocal,       // nothing crosses: everything on the device
    kRemote,      // the model inputs cross: everything on the server
    kAfterNodes,  // the first nodes() nodes in topological order run on the device
    kAtTensors,   // the device computes tensors() (and what they need); the server the rest
  };

  Cut() = default;  // local
  static Cut Local() { return Cut(); }
  static Cut Remote();
  // `nodes` >= 0; 0 is not normalised to Remote (both run everything on the server, but a
  // report of an auto decision says which the planner chose).
  static Cut AfterNodes(int64_t nodes);
  // A non-empty list of tensor names, in the order given.
  static Cut AtTensors(std::vector<std::string> tensors);

  // Parses a cut's text form (above). Errors name the text and the forms expected.
  static Result<Cut> Parse(std::string_view text);
  // The text form; Parse(c.ToString()) == c.
  std::string ToString() const;

  Kind kind() const { return kind_; }
  int64_t nodes() const { return nodes_; }                              // kAfterNodes only
  const std::vector<std::string>& tensors() const { return tensors_; }  // kAtTensors only

  bool operator==(const Cut& other) const = default;

 private:
  Kind kind_ = Kind::kLocal;
  int64_t nodes_ = 0;
  std::vector<std::string> tensors_;
};

// Parses a mode's text form into `mode` and, for split:CUT, `cut` (set to Local() for every
// other mode). Errors (INVALID_ARGUMENT) name the text and list the forms expected.
Status ParseExecutionMode(std::string_view text, ExecutionMode* mode, Cut* cut);

// The text form of a mode; `cut` is used by kSplit only. ParseExecutionMode inverts it.
std::string ExecutionModeText(ExecutionMode mode, const Cut& cut = Cut());

}  // namespace edgeinfer

#endif  // EDGEINFER_MODE_H_
