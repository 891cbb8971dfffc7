// Precompiled header of the tests (CMake option EDGEINFER_TEST_PCH): the standard, GoogleTest,
// JSON and gRPC headers that most tests include, parsed once per build instead of once per test.
// Only third-party and standard headers belong here, so that editing the project's headers never
// rebuilds the PCH, and a test that forgets an include of its own still fails without the PCH.
#pragma once
#pragma GCC system_header

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
