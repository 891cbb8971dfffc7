// Profile cache: round trip, key separation, corrupt and unwritable caches. A fake Session
// counts how often it is profiled, so no model is compiled.
#include "planner/profile_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/sha256.h"

namespace edgeinfer::planner {
namespace {

class CountingSession : public Session {
 public:
  const std::vector<TensorInfo>& inputs() const override { return infos_; }
  const std::vector<TensorInfo>& outputs() const override { return infos_; }
  Result<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>&) override {
    return Status::Unimplemented("not a real session");
  }
  Result<std::vector<NodeProfile>> Profile(const std::vector<NamedTensor>&, int repeat) override {
    ++profiles;
    if (fail) return Status::Internal("profiling failed");
    NodeProfile a;
    a.name = "conv1+relu1";
    a.op = "Conv+Relu";
    a.output_shape = {1, 64, 56, 56};
    a.output_bytes = 802816;
    a.flops = 2.5e8;
    a.median_ms = 1.25 + profiles;  // differs per profiling, so a cache hit is visible
    NodeProfile b;
    b.name = "fc";
    b.op = "Gemm";
    b.output_shape = {1, 1000};
    b.output_bytes = 4000;
    b.flops = 1e6;
    b.median_ms = 0.5;
    return std::vector<NodeProfile>{a, b};
  }

  int profiles = 0;
  bool fail = false;

 private:
  std::vector<TensorInfo> infos_;
};

class ProfileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("edgeinfer_profile_cache_" + std::to_string(::getpid())))
               .string();
    std::filesystem::remove_all(dir_);
    options_.dir = dir_;
    inputs_.push_back({"x", Tensor::Zeros(DType::kFloat32, {1, 3, 8, 8})});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(int threads) const {
    return dir_ + "/" +
           ProfileCacheFileName(Sha256Hex(kModel), MachineDescription(), threads, inputs_);
  }

  const std::string kModel = "model bytes";
  std::string dir_;
  ProfileCacheOptions options_;
  std::vector<NamedTensor> inputs_;
  CountingSession session_;
};

TEST_F(ProfileCacheTest, SecondLoadComesFromTheCache) {
  bool from_cache = true;
  auto first = LoadOrProfile(session_, kModel, inputs_, 1, 3, options_, &from_cache);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(from_cache);
  EXPECT_TRUE(std::filesystem::exists(Path(1)));
  auto second = LoadOrProfile(session_, kModel, inputs_, 1, 3, options_, &from_cache);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(from_cache);
  EXPECT_EQ(session_.profiles, 1);
  ASSERT_EQ(second->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*second)[i].name, (*first)[i].name);
    EXPECT_EQ((*second)[i].op, (*first)[i].op);
    EXPECT_EQ((*second)[i].output_shape, (*first)[i].output_shape);
    EXPECT_EQ((*second)[i].output_bytes, (*first)[i].output_bytes);
    EXPECT_EQ((*second)[i].flops, (*first)[i].flops);
    EXPECT_EQ((*second)[i].median_ms, (*first)[i].median_ms);  // JSON doubles round-trip
  }
}

TEST_F(ProfileCacheTest, KeysSeparateThreadsShapesAndModels) {
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, options_).ok());
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 2, 3, options_).ok());
  EXPECT_EQ(session_.profiles, 2);
  EXPECT_NE(Path(1), Path(2));
  std::vector<NamedTensor> bigger = {{"x", Tensor::Zeros(DType::kFloat32, {1, 3, 16, 16})}};
  ASSERT_TRUE(LoadOrProfile(session_, kModel, bigger, 1, 3, options_).ok());
  EXPECT_EQ(session_.profiles, 3);
  ASSERT_TRUE(LoadOrProfile(session_, "other model", inputs_, 1, 3, options_).ok());
  EXPECT_EQ(session_.profiles, 4);
  // Each is now cached.
  bool from_cache = false;
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 2, 3, options_, &from_cache).ok());
  EXPECT_TRUE(from_cache);
  EXPECT_EQ(session_.profiles, 4);
}

TEST_F(ProfileCacheTest, CorruptEntriesAreReprofiledAndReplaced) {
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, options_).ok());
  const char* corruptions[] = {
      "",                                              // empty (torn)
      "{\"key\": \"edgeinfer",                         // truncated
      "[1, 2, 3]",                                     // valid JSON, not an entry
      "{\"key\": \"someone else\", \"profile\": []}",  // another key
      "\x89PNG garbage \xff\xfe",                      // not text
  };
  int expected = 1;
  for (const char* bad : corruptions) {
    {
      std::ofstream out(Path(1), std::ios::binary | std::ios::trunc);
      out << bad;
    }
    bool from_cache = true;
    auto p = LoadOrProfile(session_, kModel, inputs_, 1, 3, options_, &from_cache);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_FALSE(from_cache) << "'" << bad << "'";
    EXPECT_EQ(session_.profiles, ++expected);
    // The entry was rewritten: the next load hits.
    ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, options_, &from_cache).ok());
    EXPECT_TRUE(from_cache);
    EXPECT_EQ(session_.profiles, expected);
  }
  // A valid entry whose fields have the wrong types is also a miss.
  std::string text;
  {
    std::ifstream in(Path(1));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find("\"median_ms\":");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"median_ms\":\"fast\",\"x\":");
  {
    std::ofstream out(Path(1), std::ios::trunc);
    out << text;
  }
  bool from_cache = true;
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, options_, &from_cache).ok());
  EXPECT_FALSE(from_cache);
}

TEST_F(ProfileCacheTest, UnwritableOrDisabledCacheStillProfiles) {
  ProfileCacheOptions unwritable;
  unwritable.dir = "/proc/edgeinfer-no-such-dir";
  bool from_cache = true;
  auto p = LoadOrProfile(session_, kModel, inputs_, 1, 3, unwritable, &from_cache);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(from_cache);
  ProfileCacheOptions off = options_;
  off.enabled = false;
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, off).ok());
  ASSERT_TRUE(LoadOrProfile(session_, kModel, inputs_, 1, 3, off).ok());
  EXPECT_EQ(session_.profiles, 3);
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(ProfileCacheTest, ProfilingErrorsPropagateAndAreNotCached) {
  session_.fail = true;
  auto p = LoadOrProfile(session_, kModel, inputs_, 1, 3, options_);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("profiling failed"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(Path(1)));
}

TEST(ProfileCacheDirTest, EnvironmentOrder) {
  // Saves and restores the variables so other tests in this binary see the original values.
  const char* names[] = {"EDGEINFER_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  std::string saved[3];
  bool had[3];
  for (int i = 0; i < 3; ++i) {
    const char* v = std::getenv(names[i]);
    had[i] = v != nullptr;
    if (had[i]) saved[i] = v;
  }
  setenv("HOME", "/home/u", 1);
  unsetenv("EDGEINFER_CACHE_DIR");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(DefaultProfileCacheDir(), "/home/u/.cache/edgeinfer");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(DefaultProfileCacheDir(), "/xdg/edgeinfer");
  setenv("EDGEINFER_CACHE_DIR", "/explicit", 1);
  EXPECT_EQ(DefaultProfileCacheDir(), "/explicit");
  for (int i = 0; i < 3; ++i) {
    if (had[i]) {
      setenv(names[i], saved[i].c_str(), 1);
    } else {
      unsetenv(names[i]);
    }
  }
}

TEST(ProfileJsonTest, RoundTripAndErrors) {
  NodeProfile p;
  p.name = "a+b";
  p.op = "Conv+Relu";
  p.output_shape = {1, 2};
  p.output_bytes = 8;
  p.flops = 3.0;
  p.median_ms = 0.1;
  auto back = ProfileFromJson(ProfileToJson({p}));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].name, "a+b");
  EXPECT_EQ((*back)[0].median_ms, 0.1);
  EXPECT_FALSE(ProfileFromJson("not json").ok());
  EXPECT_FALSE(ProfileFromJson("{}").ok());
  EXPECT_FALSE(ProfileFromJson("[{\"name\": 3}]").ok());
  EXPECT_FALSE(ProfileFromJson("[{\"name\":\"a\",\"op\":\"b\",\"output_shape\":[],"
                               "\"output_bytes\":0,\"flops\":0,\"median_ms\":-1}]")
                   .ok());
  EXPECT_TRUE(MachineDescription().find(" cores") != std::string::npos);
}

}  // namespace
}  // namespace edgeinfer::planner
