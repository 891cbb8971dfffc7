// Minimal argument parsing shared by the subcommands: `--flag value`, `--flag=value`, switches
// and positionals. Unknown flags are errors so typos never pass silently.
#ifndef EDGEINFER_TOOLS_ARGS_H_
#define EDGEINFER_TOOLS_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

namespace edgeinfer::tools {

class Args {
 public:
  // `valued` flags take a value; `switches` do not. Names include the leading dashes.
  Args(std::set<std::string> valued, std::set<std::string> switches)
      : valued_(std::move(valued)), switches_(std::move(switches)) {}

  // Parses argv[1..argc). Returns false and sets error() on an unknown flag or missing value.
  bool Parse(int argc, char** argv);
  const std::string& error() const { return error_; }

  bool Has(const std::string& flag) const { return values_.count(flag) || set_.count(flag); }
  // The last value given for `flag`, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> GetAll(const std::string& flag) const;
  // Parses an integer flag; false (with error()) when it is not a valid integer.
  bool GetInt(const std::string& flag, long long fallback, long long* out);
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::set<std::string> valued_;
  std::set<std::string> switches_;
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> set_;
  std::vector<std::string> positionals_;
  std::string error_;
};

}  // namespace edgeinfer::tools

#endif  // EDGEINFER_TOOLS_ARGS_H_
