// core/lru_cache.h: the bounded cache of compiled parts (auto sessions) and slices (server).
#include "core/lru_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace edgeinfer {
namespace {

TEST(LruCacheTest, DropsTheLeastRecentlyUsedEntry) {
  LruCache<int, std::string> cache(2);
  EXPECT_EQ(cache.Insert(1, "one"), "one");
  EXPECT_EQ(cache.Insert(2, "two"), "two");
  ASSERT_EQ(cache.Get(1), "one");  // 1 is now more recent than 2
  cache.Insert(3, "three");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.contains(1));
  EXPECT_FALSE(cache.contains(2));
  EXPECT_TRUE(cache.contains(3));
  EXPECT_EQ(cache.Get(2), std::nullopt);
}

TEST(LruCacheTest, TheFirstInsertOfAKeyWins) {
  LruCache<std::string, std::shared_ptr<const int>> cache(4);
  auto first = std::make_shared<const int>(1);
  EXPECT_EQ(cache.Insert("k", first), first);
  // A second caller that compiled the same key concurrently gets the stored value back.
  EXPECT_EQ(cache.Insert("k", std::make_shared<const int>(2)), first);
  EXPECT_EQ(**cache.Get("k"), 1);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(LruCacheTest, ReinsertingRefreshesAndCapacityIsAtLeastOne) {
  LruCache<int, int> cache(2);
  cache.Insert(1, 10);
  cache.Insert(2, 20);
  cache.Insert(1, 11);  // present: keeps 10, becomes most recent
  cache.Insert(3, 30);  // drops 2
  EXPECT_EQ(cache.Get(1), 10);
  EXPECT_FALSE(cache.contains(2));
  LruCache<int, int> tiny(0);
  tiny.Insert(1, 1);
  tiny.Insert(2, 2);
  EXPECT_EQ(tiny.size(), 1u);
  EXPECT_TRUE(tiny.contains(2));
}

}  // namespace
}  // namespace edgeinfer
