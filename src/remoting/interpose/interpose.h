// Shared by the interposer libraries (libcudart.so.13, libcublas.so.13, libcudnn.so.9): the
// process's one remoting connection, which lives in libcudart.so.13 and is reached from the
// other two through these C functions (exported from libcudart.so.13).
#ifndef EDGEINFER_REMOTING_INTERPOSE_INTERPOSE_H_
#define EDGEINFER_REMOTING_INTERPOSE_INTERPOSE_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "edgeinfer/status.h"
#include "remoting/client.h"

extern "C" {
// The process's connection (opened on first use from EDGEINFER_REMOTING and the token
// variables), or nullptr when it cannot be opened (the reason is printed once).
__attribute__((visibility("default"))) void* edgeinfer_remoting_client(void);
// Logs "NAME is not supported by edgeinfer remoting" once per name; returns `code`.
__attribute__((visibility("default"))) int edgeinfer_remoting_unsupported(const char* name,
                                                                          int code);
// Prints a server error once per distinct message (the first 20).
__attribute__((visibility("default"))) void edgeinfer_remoting_report(const char* what,
                                                                      const char* message);
}

namespace edgeinfer::remoting::interpose {

inline Client* GetClient() { return static_cast<Client*>(edgeinfer_remoting_client()); }

// Sends a reply's deferred error to stderr (once per message) and returns its code.
inline StatusCode Check(const Result<Reply>& reply) {
  if (!reply.ok()) {
    edgeinfer_remoting_report("connection", reply.status().message().c_str());
    return StatusCode::kUnavailable;
  }
  if (reply->code != StatusCode::kOk) {
    const std::string what = std::string("call ") + OpName(reply->failed_op);
    edgeinfer_remoting_report(what.c_str(), reply->message.c_str());
  }
  return reply->code;
}

inline uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace edgeinfer::remoting::interpose

#endif  // EDGEINFER_REMOTING_INTERPOSE_INTERPOSE_H_
