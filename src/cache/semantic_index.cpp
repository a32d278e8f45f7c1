// SemanticIndex: partitions of unit vectors, scanned flat while small, then an HNSW graph.
//
// Locks, always taken in this order (never backwards): map_ (the partition table) →
// a partition's mutex → book_ (owners_, fifo_, size_). A search takes map_ shared for the
// lookup only, then its partition shared. An add holds its partition exclusively; the entries
// it displaces elsewhere (eviction, a key moving partition) are removed after that lock is
// released, each under its own partition's lock, and only if it still holds the same
// generation (seq): a later add of the same key is never removed by an older decision.
#include "cache/semantic_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

// hnswlib 0.6.2's SSE prefetches read one link past the end of a neighbour list: harmless
// (a prefetch; the malloc block is rounded up), but AddressSanitizer stops on it. The sanitized
// build uses its plain loops instead.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

namespace torii::cache {

namespace {

// A partition gets a graph when it holds this many live entries. Below, a flat scan is exact
// and no slower (measured, random unit vectors, one core: 256 dims, 1024 entries: flat 39 µs,
// graph 60 µs; 1536 dims: 309 µs and 294 µs; at 64 entries: 2.6 µs against 12.5 µs), and a
// graph's fixed part alone is ~2.6 MB (hnswlib's 65536 update locks), which thousands of
// small partitions could not afford.
constexpr std::size_t kGraphFrom = 1024;
constexpr std::size_t kM = 16, kEfConstruction = 100;
// Candidates visited per search. At 100k entries, 256 dims, a planted near-duplicate (cosine
// 0.95) is found first: clustered vectors 99.8% at ef 32, 100% at 64 (p50 159 µs); uniformly
// random vectors (the worst case) 73% at 32, 89% at 64 (416 µs), 98% at 128 (790 µs).
constexpr std::size_t kEfSearch = 64;
constexpr std::size_t kFirstCapacity = 128;

using Graph = hnswlib::HierarchicalNSW<float>;

struct Slot {
  std::string key, prompt;
  int64_t expires_ms = 0;
  uint64_t seq = 0;  // the generation of the add that wrote it; 0: free
};

struct Partition {
  Partition(std::string n, std::size_t d)
      : name(std::move(n)), dims(d), space(d), distance(space.get_dist_func()),
        distance_param(space.get_dist_func_param()) {}
  const std::string name;
  const std::size_t dims;
  hnswlib::InnerProductSpace space;  // the graph's metric, and the flat scan's (SIMD)
  const hnswlib::DISTFUNC<float> distance;
  void* const distance_param;
  mutable std::shared_mutex mutex;
  // Guarded by mutex.
  bool dead = false;                 // purged or emptied: out of the table, add elsewhere
  std::vector<Slot> slots;           // by label (the graph's label is the slot's index)
  std::vector<uint32_t> free_labels;
  std::vector<float> flat;           // slots.size() * dims, while there is no graph
  std::unique_ptr<Graph> graph;
  std::size_t live = 0;

  const float* flat_vector(uint32_t label) const { return flat.data() + label * dims; }
  float similarity(const float* a, const float* b) const {
    // InnerProductSpace's distance is 1 - dot.
    return 1.0f - distance(a, b, distance_param);
  }
};

// Where a key lives, and which add put it there.
struct Owner {
  std::shared_ptr<Partition> part;
  uint32_t label = 0;
  uint64_t seq = 0;
};

struct Queued {
  std::string key;
  uint64_t seq = 0;
};

// Normalises `in` into `out`; false for an empty, zero or non-finite vector.
bool unit_vector(std::span<const float> in, std::vector<float>& out) {
  if (in.empty()) return false;
  double sum = 0;
  for (float x : in) {
    if (!std::isfinite(x)) return false;
    sum += static_cast<double>(x) * x;
  }
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const double inv = 1.0 / std::sqrt(sum);
  out.resize(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<float>(in[i] * inv);
  return true;
}

std::size_t string_bytes(const std::string& s) {
  // Heap bytes only: short strings live inside the object (libstdc++ SSO: 15 chars).
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

// Whether the graph already holds `v` under `label` (a replace with the same vector: nothing to
// re-link, which would cost more than an insert).
bool holds(const Graph& g, uint32_t label, const std::vector<float>& v) {
  auto it = g.label_lookup_.find(label);
  return it != g.label_lookup_.end() &&
         std::memcmp(g.getDataByInternalId(it->second), v.data(), v.size() * sizeof(float)) == 0;
}

// Whether hnswlib may update the element of `label` in place (a replace by another vector, or
// a freed place reused). Its update copies the neighbour lists it walks with memcpy, which is
// undefined behaviour on an empty one (memcpy(nullptr, ..., 0): UBSan stops there); such a
// rare element (alone on its level, or next to one) is retired instead: it stays deleted.
bool updatable(const Graph& g, uint32_t label) {
  auto it = g.label_lookup_.find(label);
  if (it == g.label_lookup_.end()) return true;  // never inserted: a plain insert
  const hnswlib::tableint id = it->second;
  for (int layer = 0; layer <= g.element_levels_[id]; ++layer) {
    const hnswlib::linklistsizeint* list = g.get_linklist_at_level(id, layer);
    const unsigned short n = g.getListCount(const_cast<hnswlib::linklistsizeint*>(list));
    if (n == 0) return false;
    const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
    for (unsigned short k = 0; k < n; ++k)
      if (g.getListCount(g.get_linklist_at_level(links[k], layer)) == 0) return false;
  }
  return true;
}

std::size_t graph_bytes(const Graph& g) {
  std::size_t bytes = g.max_elements_ * (g.size_data_per_element_ + sizeof(void*) + sizeof(int) +
                                         sizeof(std::mutex) + sizeof(hnswlib::vl_type));
  bytes += Graph::max_update_element_locks * sizeof(std::mutex);
  for (std::size_t i = 0; i < g.cur_element_count; ++i)
    if (g.element_levels_[i] > 0) bytes += g.size_links_per_element_ * g.element_levels_[i] + 1;
  // label_lookup_: a node per element (pair, next pointer, malloc header) and the buckets.
  bytes += g.label_lookup_.size() * (sizeof(std::pair<hnswlib::labeltype, hnswlib::tableint>) +
                                     2 * sizeof(void*)) +
           g.label_lookup_.bucket_count() * sizeof(void*);
  return bytes + sizeof(Graph);
}

}  // namespace

struct SemanticIndex::Impl {
  explicit Impl(int64_t max) : max_entries(max) {}

  const int64_t max_entries;
  mutable std::shared_mutex map_;
  std::unordered_map<std::string, std::shared_ptr<Partition>> partitions;  // guarded by map_
  mutable std::mutex book_;
  // Guarded by book_.
  std::unordered_map<std::string, Owner> owners;
  std::deque<Queued> fifo;  // adds, oldest first; an item whose seq is not its key's is stale
  uint64_t next_seq = 0;
  int64_t size = 0;

  std::shared_ptr<Partition> find(std::string_view name) const {
    std::shared_lock lock(map_);
    auto it = partitions.find(std::string(name));
    return it == partitions.end() ? nullptr : it->second;
  }

  std::shared_ptr<Partition> find_or_create(std::string_view name, std::size_t dims) {
    if (auto p = find(name)) return p;
    std::unique_lock lock(map_);
    auto [it, created] = partitions.try_emplace(std::string(name));
    if (created) it->second = std::make_shared<Partition>(std::string(name), dims);
    return it->second;
  }

  // Frees a slot (the partition is locked exclusively). The graph keeps the label as deleted
  // until an add reuses it (or for good when `reusable` is false).
  static void free_slot(Partition& p, uint32_t label, bool reusable = true) {
    Slot& s = p.slots[label];
    s = Slot{};
    if (reusable) p.free_labels.push_back(label);
    --p.live;
    if (p.graph) {
      try {
        p.graph->markDelete(label);
      } catch (const std::exception&) {
        // Never added to the graph (freed while flat): nothing to mark.
      }
    }
  }

  // Removes what `removals` lists (book_ already forgot them), then drops emptied partitions.
  void apply(const std::vector<Owner>& removals) {
    std::vector<std::shared_ptr<Partition>> emptied;
    for (const Owner& r : removals) {
      std::unique_lock lock(r.part->mutex);
      if (r.part->dead || r.label >= r.part->slots.size() ||
          r.part->slots[r.label].seq != r.seq)
        continue;
      free_slot(*r.part, r.label);
      if (r.part->live == 0) emptied.push_back(r.part);
    }
    for (const auto& p : emptied) drop_if_empty(p);
  }

  void drop_if_empty(const std::shared_ptr<Partition>& p) {
    std::unique_lock map_lock(map_);
    std::unique_lock lock(p->mutex);
    if (p->dead || p->live != 0) return;
    p->dead = true;
    if (auto it = partitions.find(p->name); it != partitions.end() && it->second == p)
      partitions.erase(it);
    p->graph.reset();
    std::vector<Slot>().swap(p->slots);
    std::vector<float>().swap(p->flat);
    std::vector<uint32_t>().swap(p->free_labels);
  }

  // Builds the graph of a flat partition (locked exclusively); on failure it stays flat.
  static void build_graph(Partition& p) {
    try {
      auto g = std::make_unique<Graph>(&p.space, std::max(kFirstCapacity, 2 * p.slots.size()),
                                       kM, kEfConstruction);
      g->setEf(kEfSearch);
      for (uint32_t label = 0; label < p.slots.size(); ++label)
        if (p.slots[label].seq != 0) g->addPoint(p.flat_vector(label), label);
      p.graph = std::move(g);
      std::vector<float>().swap(p.flat);
    } catch (const std::exception&) {
    }
  }
};

SemanticIndex::SemanticIndex(int64_t max_entries) : impl_(std::make_unique<Impl>(max_entries)) {}
SemanticIndex::~SemanticIndex() = default;

bool SemanticIndex::add(std::string_view partition, std::string_view key, std::string_view prompt,
                        std::span<const float> vector, int64_t expires_ms) {
  Impl& m = *impl_;
  std::vector<float> unit;
  if (m.max_entries <= 0 || !unit_vector(vector, unit)) return false;

  std::shared_ptr<Partition> part;
  std::unique_lock<std::shared_mutex> lock;
  for (;;) {  // a partition emptied or purged meanwhile is dead: take the new one
    part = m.find_or_create(partition, unit.size());
    lock = std::unique_lock(part->mutex);
    if (!part->dead) break;
    lock.unlock();
  }
  Partition& p = *part;
  if (p.dims != unit.size()) return false;
  // Room for one more graph element first: the one step that may fail (memory).
  if (p.graph && p.graph->cur_element_count >= p.graph->max_elements_) {
    try {
      p.graph->resizeIndex(2 * p.graph->max_elements_);
    } catch (const std::exception&) {
      return false;
    }
  }

  // A free place the graph can update (updatable), or a new one.
  auto take_free = [&p]() -> uint32_t {
    while (!p.free_labels.empty()) {
      const uint32_t l = p.free_labels.back();
      p.free_labels.pop_back();
      if (!p.graph || updatable(*p.graph, l)) return l;
    }
    return static_cast<uint32_t>(p.slots.size());
  };
  std::vector<Owner> removals;
  uint32_t label = 0;
  uint64_t seq = 0;
  {
    std::lock_guard book(m.book_);
    seq = ++m.next_seq;
    std::string owned_key(key);
    auto it = m.owners.find(owned_key);
    if (it != m.owners.end() && it->second.part == part) {
      label = it->second.label;  // replaced in place
      if (p.graph && !holds(*p.graph, label, unit) && !updatable(*p.graph, label)) {
        Impl::free_slot(p, label, false);
        label = take_free();
      }
    } else {
      if (it != m.owners.end()) removals.push_back(it->second);  // moves partition
      else ++m.size;
      label = take_free();
    }
    m.fifo.push_back({owned_key, seq});
    m.owners.insert_or_assign(std::move(owned_key), Owner{part, label, seq});
    while (m.size > m.max_entries && !m.fifo.empty()) {
      Queued q = std::move(m.fifo.front());
      m.fifo.pop_front();
      auto victim = m.owners.find(q.key);
      if (victim == m.owners.end() || victim->second.seq != q.seq) continue;  // stale
      removals.push_back(std::move(victim->second));
      m.owners.erase(victim);
      --m.size;
    }
    // Replacing the same keys leaves stale items behind: compact before they pile up.
    if (m.fifo.size() > 2 * m.owners.size() + 1024)
      std::erase_if(m.fifo, [&](const Queued& q) {
        auto o = m.owners.find(q.key);
        return o == m.owners.end() || o->second.seq != q.seq;
      });
  }

  const bool fresh = label >= p.slots.size() || p.slots[label].seq == 0;
  if (label >= p.slots.size()) p.slots.resize(label + 1);
  Slot& s = p.slots[label];
  s.key.assign(key);
  s.prompt.assign(prompt);
  s.expires_ms = expires_ms;
  s.seq = seq;
  if (fresh) ++p.live;
  bool stored = true;
  if (p.graph) {
    try {
      // An existing label (replaced, or a freed place reused) is updated in place.
      if (fresh || !holds(*p.graph, label, unit)) p.graph->addPoint(unit.data(), label);
    } catch (const std::exception&) {
      stored = false;
    }
  } else {
    if (p.flat.size() < p.slots.size() * p.dims) p.flat.resize(p.slots.size() * p.dims);
    std::copy(unit.begin(), unit.end(), p.flat.begin() + label * p.dims);
    if (p.live >= kGraphFrom) Impl::build_graph(p);
  }
  if (!stored) {
    // Undo: the slot's generation is ours, so a removal of it is exact.
    std::lock_guard book(m.book_);
    if (auto it = m.owners.find(std::string(key)); it != m.owners.end() && it->second.seq == seq) {
      removals.push_back(std::move(it->second));
      m.owners.erase(it);
      --m.size;
    }
  }
  lock.unlock();
  m.apply(removals);
  return stored;
}

std::vector<SemanticCandidate> SemanticIndex::search(std::string_view partition,
                                                     std::span<const float> vector,
                                                     float min_similarity, std::size_t k,
                                                     int64_t now_ms) const {
  std::vector<SemanticCandidate> out;
  std::vector<float> query;
  if (k == 0 || !unit_vector(vector, query)) return out;
  std::shared_ptr<Partition> part = impl_->find(partition);
  if (!part) return out;
  std::shared_lock lock(part->mutex);
  const Partition& p = *part;
  if (p.dead || p.dims != query.size()) return out;

  std::vector<std::pair<float, uint32_t>> found;  // (similarity, label)
  auto keep = [&](float sim, uint32_t label) {
    const Slot& s = p.slots[label];
    if (s.seq != 0 && s.expires_ms > now_ms && sim >= min_similarity)
      found.emplace_back(sim, label);
  };
  if (p.graph) {
    try {
      // The graph visits kEfSearch candidates anyway: asking for them all costs nothing and
      // leaves room for the expired and the too-far ones filtered here.
      auto heap = p.graph->searchKnn(query.data(), std::max(k, kEfSearch));
      found.reserve(heap.size());
      for (; !heap.empty(); heap.pop())
        keep(1.0f - heap.top().first, static_cast<uint32_t>(heap.top().second));
    } catch (const std::exception&) {
      return out;
    }
  } else {
    for (uint32_t label = 0; label < p.slots.size(); ++label)
      if (p.slots[label].seq != 0) keep(p.similarity(query.data(), p.flat_vector(label)), label);
  }
  const std::size_t n = std::min(k, found.size());
  // Best first; equal similarities: the newer entry first.
  std::partial_sort(found.begin(), found.begin() + n, found.end(), [&](auto& a, auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return p.slots[a.second].seq > p.slots[b.second].seq;
  });
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Slot& s = p.slots[found[i].second];
    out.push_back({s.key, s.prompt, std::clamp(found[i].first, -1.0f, 1.0f)});
  }
  return out;
}

bool SemanticIndex::erase(std::string_view key) {
  Impl& m = *impl_;
  std::vector<Owner> removals;
  {
    std::lock_guard book(m.book_);
    auto it = m.owners.find(std::string(key));
    if (it == m.owners.end()) return false;
    removals.push_back(std::move(it->second));
    m.owners.erase(it);
    --m.size;
  }
  m.apply(removals);
  return true;
}

int64_t SemanticIndex::purge(std::string_view prefix) {
  Impl& m = *impl_;
  int64_t removed = 0;
  std::unique_lock map_lock(m.map_);
  for (auto it = m.partitions.begin(); it != m.partitions.end();) {
    if (!it->first.starts_with(prefix)) {
      ++it;
      continue;
    }
    const std::shared_ptr<Partition> part = it->second;
    it = m.partitions.erase(it);
    std::unique_lock lock(part->mutex);
    part->dead = true;
    {
      std::lock_guard book(m.book_);
      for (const Slot& s : part->slots) {
        if (s.seq == 0) continue;
        auto o = m.owners.find(s.key);
        if (o == m.owners.end() || o->second.seq != s.seq) continue;
        m.owners.erase(o);
        --m.size;
        ++removed;
      }
    }
    part->graph.reset();
    std::vector<Slot>().swap(part->slots);
    std::vector<float>().swap(part->flat);
    std::vector<uint32_t>().swap(part->free_labels);
    part->live = 0;
  }
  if (m.partitions.empty()) decltype(m.partitions)().swap(m.partitions);  // the buckets too
  std::lock_guard book(m.book_);
  if (m.owners.empty()) {
    decltype(m.owners)().swap(m.owners);
    decltype(m.fifo)().swap(m.fifo);
  } else if (removed > 0) {
    std::erase_if(m.fifo, [&](const Queued& q) {
      auto o = m.owners.find(q.key);
      return o == m.owners.end() || o->second.seq != q.seq;
    });
  }
  return removed;
}

int64_t SemanticIndex::size() const {
  std::lock_guard book(impl_->book_);
  return impl_->size;
}

int64_t SemanticIndex::memory_bytes() const {
  const Impl& m = *impl_;
  std::size_t bytes = sizeof(Impl);
  std::shared_lock map_lock(m.map_);
  bytes += m.partitions.bucket_count() * sizeof(void*);
  for (const auto& [name, part] : m.partitions) {
    std::shared_lock lock(part->mutex);
    const Partition& p = *part;
    // The table's node, the shared_ptr's control block with the partition, its name (twice).
    bytes += sizeof(std::pair<const std::string, std::shared_ptr<Partition>>) + 2 * sizeof(void*);
    bytes += sizeof(Partition) + 2 * sizeof(void*) + 2 * string_bytes(p.name);
    bytes += p.slots.capacity() * sizeof(Slot) + p.free_labels.capacity() * sizeof(uint32_t) +
             p.flat.capacity() * sizeof(float);
    for (const Slot& s : p.slots) bytes += string_bytes(s.key) + string_bytes(s.prompt);
    if (p.graph) bytes += graph_bytes(*p.graph);
  }
  map_lock.unlock();
  std::lock_guard book(m.book_);
  bytes += m.owners.bucket_count() * sizeof(void*);
  for (const auto& [key, owner] : m.owners)
    bytes += sizeof(std::pair<const std::string, Owner>) + 2 * sizeof(void*) + string_bytes(key);
  bytes += m.fifo.size() * sizeof(Queued);
  for (const Queued& q : m.fifo) bytes += string_bytes(q.key);
  return static_cast<int64_t>(bytes);
}

}  // namespace torii::cache
