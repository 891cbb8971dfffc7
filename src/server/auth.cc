#include "server/auth.h"

#include <fstream>

namespace edgeinfer::server {

namespace {

std::string Trim(const std::string& s) {
  const char* kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Compares without an early exit, so response time does not reveal a matching prefix.
bool SameBytes(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

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
  for (const std::string& t : tokens) found = SameBytes(t, token) || found;
  if (!found) return Status(StatusCode::kUnauthenticated, "unknown bearer token");
  return Status::Ok();
}

}  // namespace edgeinfer::server
