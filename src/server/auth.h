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

// Compares a presented token with a configured one in time that depends on neither the
// contents nor the lengths: both are hashed (SHA-256) and the digests compared in full.
// `bytes_compared` (optional) receives the number of digest bytes compared, the same for any
// two inputs; tests check it.
bool TokensMatch(const std::string& a, const std::string& b, size_t* bytes_compared = nullptr);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_AUTH_H_
