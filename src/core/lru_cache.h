// A bounded map that drops its least recently used entry: the cache of compiled device parts in
// auto sessions and of compiled model slices on the edge server.
//
// Not thread safe: callers guard it with their own mutex (they compile outside the lock and
// insert afterwards; see Insert). Values are usually shared_ptrs, so an entry dropped while a
// caller still uses it stays alive until that caller lets it go.
#ifndef EDGEINFER_CORE_LRU_CACHE_H_
#define EDGEINFER_CORE_LRU_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <utility>

namespace edgeinfer {

template <typename Key, typename Value>
class LruCache {
 public:
  // Holds at most max(1, capacity) entries.
  explicit LruCache(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}

  // The value under `key`, which becomes the most recently used; nullopt when absent.
  std::optional<Value> Get(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    order_.splice(order_.end(), order_, it->second.second);
    return it->second.first;
  }

  // Stores `value` under `key` unless the key is already present (two callers that both missed
  // and both built a value: the first stored wins, and both get it). Returns the stored value,
  // now the most recently used, after dropping the least recently used entries over capacity.
  Value Insert(const Key& key, Value value) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      order_.splice(order_.end(), order_, it->second.second);
      return it->second.first;
    }
    order_.push_back(key);
    it = entries_.emplace(key, std::make_pair(std::move(value), std::prev(order_.end()))).first;
    Value stored = it->second.first;
    while (entries_.size() > capacity_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    return stored;
  }

  size_t size() const { return entries_.size(); }
  bool contains(const Key& key) const { return entries_.count(key) > 0; }

 private:
  const size_t capacity_;
  std::list<Key> order_;  // least recently used first
  std::map<Key, std::pair<Value, typename std::list<Key>::iterator>> entries_;
};

}  // namespace edgeinfer

#endif  // EDGEINFER_CORE_LRU_CACHE_H_
