// harness/micro/ring.cpp: SpillRing push, eviction and drain, and the
// single-thread reference loops that bound them (targets T1, T2).
#include <deque>
#include <memory>
#include <vector>

#include <spill/spill.hpp>

#include "common.hpp"

namespace spill::micro {
namespace {

/// Sums the keys of the items it receives and checks they arrive in increasing order.
template <class It>
struct ItemSum {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    std::uint64_t last = 0;
    bool ordered = true;
    void send(It&& item) noexcept {
        const std::uint64_t k = item.key();
        ordered &= count == 0 || k > last;
        last = k;
        sum += k;
        ++count;
    }
    std::size_t send_all(std::span<It> items) noexcept {
        for (It& x : items) send(std::move(x));
        return items.size();
    }
    void flush() noexcept {}
};

// ---- ring push, and its references ------------------------------------------

// ring push into a full ring: every push evicts into a DropSpout. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_drop(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) ring->push(It::make(x++));
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) ring->push(It::make(x++));
        benchmark::ClobberMemory();
    }
    if (!ring->full() || ring->back().key() != x - 1 || ring->front().key() != x - N)
        state.SkipWithError("push_drop: ring does not hold the newest N items");
    set_items(state, kBatch);
}

// ring push into a full ring whose spout counts what it evicts: the general
// push (the one a pool ring makes: check for room, evict the oldest into a
// real spout, store the new item), unlike push_drop, where a drop ring of
// trivial items evicts lazily and the loop is the masked store itself.
// Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_count(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::CountingSpout<>>>();
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) ring->push(It::make(x++));
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) ring->push(It::make(x++));
        benchmark::ClobberMemory();
    }
    if (!ring->full() || ring->back().key() != x - 1 || ring->front().key() != x - N || ring->spout().count() != x - N)
        state.SkipWithError("push_count: ring does not hold the newest N items, or the spout missed evictions");
    set_items(state, kBatch);
}

// Reference (floor for push): store into a power-of-two array at pos & mask. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_ref_masked_store(State& state) {
    using It = Item<B>;
    auto arr = std::make_unique<It[]>(N);
    std::uint64_t pos = 0;
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) {
            arr[pos & (N - 1)] = It::make(pos);
            ++pos;
        }
        benchmark::ClobberMemory();
    }
    if (pos != 0 && arr[(pos - 1) & (N - 1)].key() != pos - 1) state.SkipWithError("masked_store: last slot holds the wrong item");
    set_items(state, kBatch);
}

// Reference (the same job as push_count, written by hand for the compiler's
// best case): per item, check for room, count the eviction when there is
// none, store at pos & mask. The positions and the count are locals, so
// they stay in registers; with GCC 12 at -O3 the count becomes a
// compare-and-subtract-with-borrow, with no branch. What the ring's push
// cannot do as a library call: keep the count in a register across calls
// (its spout's count is a member, stored on the eviction path only, so the
// compiler may not keep it in a register through a loop of pushes). It is
// a comparison for push_count, not T1's reference, and not a bound on it:
// the register count costs a compare and a subtract-with-borrow per item,
// which at some sizes is slower than the ring's well-predicted branch
// around a memory increment. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_ref_evict_count(State& state) {
    using It = Item<B>;
    auto arr = std::make_unique<It[]>(N);
    const std::uint64_t head = 0;  // a push never advances it: the oldest item is found at slot(tail)
    std::uint64_t tail = 0, evicted = 0;
    for (; tail < N; ++tail) arr[tail & (N - 1)] = It::make(tail);  // full, as push_count starts
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) {
            if (tail - head >= N) ++evicted;  // the oldest sits in slot(tail): counted, overwritten below
            arr[tail & (N - 1)] = It::make(tail);
            ++tail;
        }
        benchmark::ClobberMemory();
    }
    if (evicted != tail - N || arr[(tail - 1) & (N - 1)].key() != tail - 1)
        state.SkipWithError("evict_count: wrong eviction count, or the last slot holds the wrong item");
    set_items(state, kBatch);
}

/// Sums what it receives and checks the keys arrive in increasing order.
// ring push evicting into a collecting spout (a vector). Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_collect(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::CollectSpout<It>>>(spill::CollectSpout<It>(kBatch));
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) ring->push(It::make(x++));
    bool ok = true;
    for (auto _ : state) {
        const std::uint64_t first = x - N;  // the oldest item, evicted first
        for (std::size_t k = 0; k < kBatch; ++k) ring->push(It::make(x++));
        auto& out = ring->spout().items();
        ok &= out.size() == kBatch && out.front().key() == first && out.back().key() == first + kBatch - 1;
        out.clear();  // keeps capacity
    }
    if (!ok) state.SkipWithError("push_collect: the spout did not receive the evicted items in order");
    set_items(state, kBatch);
}

// Reference: std::deque with manual eviction into a vector. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_ref_deque_evict(State& state) {
    using It = Item<B>;
    std::deque<It> dq;
    std::vector<It> out;
    out.reserve(kBatch);
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N; ++i) dq.push_back(It::make(x++));
    bool ok = true;
    for (auto _ : state) {
        const std::uint64_t first = x - N;
        for (std::size_t k = 0; k < kBatch; ++k) {
            if (dq.size() == N) {
                out.push_back(std::move(dq.front()));
                dq.pop_front();
            }
            dq.push_back(It::make(x++));
        }
        ok &= out.size() == kBatch && out.front().key() == first && out.back().key() == first + kBatch - 1;
        out.clear();
    }
    if (!ok) state.SkipWithError("deque_evict: the vector did not receive the evicted items in order");
    set_items(state, kBatch);
}

// push + pop pairs on a half-full ring (no eviction). Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_push_pop(State& state) {
    using It = Item<B>;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < N / 2; ++i) ring->push(It::make(x++));
    std::uint64_t next = 0;
    bool ok = true;
    for (auto _ : state) {
        for (std::size_t k = 0; k < kBatch; ++k) {
            ring->push(It::make(x++));
            ok &= ring->pop().value_or(It::make(kNone)).key() == next;
            ++next;
        }
    }
    if (!ok) state.SkipWithError("push_pop: pop returned the wrong item");
    set_items(state, kBatch);
}

// fill kBatch items then drain them into a checksum spout. Better: higher items/s.
template <std::size_t N, std::size_t B>
void BM_fill_drain(State& state) {
    using It = Item<B>;
    constexpr std::size_t per = kBatch < N ? kBatch : N;
    auto ring = std::make_unique<spill::SpillRing<It, N, spill::DropSpout>>();
    ItemSum<It> sink;
    std::uint64_t x = 0;
    std::uint64_t expect = 0;
    for (auto _ : state) {
        for (std::size_t k = 0; k < per; ++k) {
            expect += x;
            ring->push(It::make(x++));
        }
        (void)ring->drain(sink);
    }
    if (sink.count != x || sink.sum != expect || !sink.ordered) state.SkipWithError("fill_drain: checksum mismatch");
    set_items(state, per);
}


template <std::size_t N, std::size_t B>
void register_ring_size(const std::string& suffix) {
    benchmark::RegisterBenchmark(("push_drop/" + suffix).c_str(), BM_push_drop<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("push_count/" + suffix).c_str(), BM_push_count<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("push_collect/" + suffix).c_str(), BM_push_collect<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("ref_masked_store/" + suffix).c_str(), BM_ref_masked_store<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("ref_evict_count/" + suffix).c_str(), BM_ref_evict_count<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("ref_deque_evict/" + suffix).c_str(), BM_ref_deque_evict<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("push_pop/" + suffix).c_str(), BM_push_pop<N, B>)->MinTime(kRingMinTime);
    benchmark::RegisterBenchmark(("fill_drain/" + suffix).c_str(), BM_fill_drain<N, B>)->MinTime(kRingMinTime);
}

}  // namespace

void register_ring() {
    register_ring_size<64, 8>("N=64/B=8");
    register_ring_size<64, 64>("N=64/B=64");
    register_ring_size<1024, 8>("N=1024/B=8");
    register_ring_size<1024, 64>("N=1024/B=64");
    register_ring_size<65536, 8>("N=65536/B=8");
    register_ring_size<65536, 64>("N=65536/B=64");
}

}  // namespace spill::micro
