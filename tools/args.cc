#include "args.h"

#include <cerrno>
#include <cstdlib>

namespace edgeinfer::tools {

bool Args::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (switches_.count(name)) {
      if (has_value) {
        error_ = "flag " + name + " takes no value";
        return false;
      }
      set_.insert(name);
    } else if (valued_.count(name)) {
      if (!has_value) {
        if (i + 1 >= argc) {
          error_ = "flag " + name + " needs a value";
          return false;
        }
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      error_ = "unknown flag " + name;
      return false;
    }
  }
  return true;
}

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::GetAll(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::GetInt(const std::string& flag, long long fallback, long long* out) {
  auto it = values_.find(flag);
  if (it == values_.end()) {
    *out = fallback;
    return true;
  }
  const std::string& s = it->second.back();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || errno != 0 || *end != '\0') {
    error_ = "flag " + flag + " needs an integer, got '" + s + "'";
    return false;
  }
  *out = v;
  return true;
}

}  // namespace edgeinfer::tools
