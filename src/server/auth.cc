#include "server/auth.h"

#include <fstream>

#include "core/sha256.h"

namespace edgeinfer::server {

namespace {

std::string Trim(const std::string& s) {
  const char* kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace

bool TokensMatch(const std::string& a, const std::string& b, size_t* bytes_compared) {
  // Both sides are hashed to digests of one fixed length and the digests compared without an
  // early exit, so neither a matching prefix nor the token's length shows in the time taken.
  const std::string da = Sha256Hex(a), db = Sha256Hex(b);
  unsigned char diff = 0;
  for (size_t i = 0; i < da.size(); ++i) diff |= static_cast<unsigned char>(da[i] ^ db[i]);
  if (bytes_compared != nullptr) *bytes_compared = da.size();
  return diff == 0;
}

Result<std::set<std::string>> LoadTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read token file '" + path + "'");
  std::set<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (!line.empty() && line[0] != '#') tokens.insert(line);
  }
  if (tokens.empty()) return Status::InvalidArgument("token file '" + path + "' lists no token");
  return tokens;
}

Status CheckBearer(const std::string* header, const std::set<std::string>& tokens) {
  if (tokens.empty()) return Status::Ok();
  if (header == nullptr) {
    return Status(StatusCode::kUnauthenticated, "missing 'authorization: Bearer <token>'");
  }
  const std::string kPrefix = "Bearer ";
  if (header->size() <= kPrefix.size() || header->compare(0, kPrefix.size(), kPrefix) != 0) {
    return Status(StatusCode::kUnauthenticated, "authorization is not 'Bearer <token>'");
  }
  const std::string token = Trim(header->substr(kPrefix.size()));
  bool found = false;
  for (const std::string& t : tokens) found = TokensMatch(t, token) || found;
  if (!found) return Status(StatusCode::kUnauthenticated, "unknown bearer token");
  return Status::Ok();
}

}  // namespace edgeinfer::server
