// Bearer-token authentication shared by the gRPC and HTTP front ends.
#ifndef EDGEINFER_SERVER_AUTH_H_
#define EDGEINFER_SERVER_AUTH_H_

#include <set>
#include <string>

#include "edgeinfer/status.h"

namespace edgeinfer::server {

// Reads one token a line; blank lines and lines starting with '#' are skipped, surrounding
// whitespace trimmed. An error when the file cannot be read or lists no token.
Result<std::set<std::string>> LoadTokens(const std::string& path);

// Checks an "authorization" header value ("Bearer <token>") against `tokens`. OK when `tokens`
// is empty (authentication off); Unauthenticated otherwise, without echoing the token.
Status CheckBearer(const std::string* header, const std::set<std::string>& tokens);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_AUTH_H_
