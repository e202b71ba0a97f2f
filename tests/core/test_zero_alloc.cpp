// Zero allocation in steady state (docs/design.md, sections 4 and 7: the pool's
// path, and SequencedSpout's preallocated window),
// measured with the counting global operator new (tests/support/alloc_counter).
// Counts are read into locals before any assertion: Catch2 itself allocates.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "alloc_counter.hpp"
#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::AllocationScope;
using spill::test::Item;
using spill::test::make_item;

namespace {

constexpr std::size_t W = 3;
constexpr std::uint32_t per_worker = 40;

/// A task that pushes `n` items (no allocation of its own).
struct PushN {
    template <class Ring>
    void operator()(Ring& ring, std::size_t w, const std::uint32_t& n) const {
        for (std::uint32_t i = 0; i < n; ++i) ring.push(make_item(n, w, i));
    }
};

auto make_pool() { return spill::pool<Item, 128>(W).spawn<std::uint32_t>(PushN{}); }

}  // namespace

TEST_CASE("zero_alloc: the counting operator new sees allocations (control)", "[alloc]") {
    // The pointer escapes through a volatile: the compiler may not elide the pair.
    static int* volatile escape = nullptr;
    AllocationScope scope;
    escape = new int(3);
    const auto n = scope.count();
    delete escape;
    CHECK(n == 1);
}

TEST_CASE("zero_alloc: dispatch, collect and join allocate nothing per round after warm-up", "[alloc][pool]") {
    auto pool = make_pool();
    spill::CountingSpout<> out;  // counts and drops: no storage
    for (int i = 0; i < 20; ++i) {  // warm-up
        pool.dispatch(per_worker);
        pool.collect(out);
        pool.join();
        pool.collect(out);
    }
    const std::uint64_t before = out.count();
    AllocationScope scope;
    for (int i = 0; i < 2000; ++i) {
        pool.dispatch(per_worker);
        pool.collect(out);  // while running
        pool.join();
        pool.collect(out);
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(out.count() - before == 2000 * W * per_worker);
}

TEST_CASE("zero_alloc: run and collect into a pre-reserved CollectSpout allocate nothing", "[alloc][pool]") {
    auto pool = make_pool();
    constexpr int rounds = 1000;
    spill::CollectSpout<Item> out(static_cast<std::size_t>(rounds + 10) * W * per_worker);
    for (int i = 0; i < 10; ++i) {
        pool.run(per_worker);
        pool.collect(out);
    }
    AllocationScope scope;
    for (int i = 0; i < rounds; ++i) {
        pool.run(per_worker);
        pool.collect(out);
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(out.size() == static_cast<std::size_t>(rounds + 10) * W * per_worker);
}

TEST_CASE("zero_alloc: the merge-back path allocates nothing", "[alloc][pool][backpressure]") {
    auto pool = spill::pool<Item, 64>(W).spawn<std::uint32_t>(PushN{});
    spill::CountingSpout<> out;
    for (int i = 0; i < 10; ++i) pool.run(per_worker);
    pool.collect(out);
    AllocationScope scope;
    for (int i = 0; i < 1000; ++i) {
        pool.run(per_worker);
        pool.run(per_worker);  // the slot is still full: merge back, ring overflows into DropSpout
        pool.collect(out);
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(pool.stats(0).merge_backs >= 1000);
}

TEST_CASE("zero_alloc: a FanInSpout flush allocates nothing", "[alloc][fan_in]") {
    auto pool = make_pool();
    auto fan = pool.fan_in(spill::CountingSpout<>{});
    for (int i = 0; i < 10; ++i) {
        pool.run(per_worker);
        fan.flush();
    }
    AllocationScope scope;
    for (int i = 0; i < 1000; ++i) {
        pool.dispatch(per_worker);
        fan.flush();
        pool.join();
        fan.flush();
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(fan.inner().count() == 1010 * W * per_worker);
}

TEST_CASE("zero_alloc: the sequenced pool path allocates nothing after warm-up", "[alloc][sequenced]") {
    auto pool = make_pool();
    auto fan = pool.sequenced_fan_in(spill::SequencedSpout<Item, spill::CountingSpout<>>{spill::CountingSpout<>{}, 16, per_worker});
    for (int i = 0; i < 10; ++i) {
        pool.dispatch(per_worker);
        fan.collect();
        pool.join();
        fan.flush();
    }
    AllocationScope scope;
    for (int i = 0; i < 1000; ++i) {
        pool.dispatch(per_worker);
        fan.collect();
        pool.join();
        fan.flush();
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(fan.inner().inner().count() == 1010 * W * per_worker);
}

TEST_CASE("zero_alloc: SequencedSpout buffering inside its window allocates nothing after warm-up", "[alloc][sequenced]") {
    spill::SequencedSpout<int, spill::CountingSpout<>> seq{spill::CountingSpout<>{}, 8};
    std::vector<int> batch(32, 7);
    std::uint64_t next = 0;
    // Each cycle submits 8 batches in reverse order: 7 are buffered, then all released.
    auto cycle = [&] {
        for (std::uint64_t k = 8; k-- > 0;) seq.submit(next + k, batch);
        next += 8;
    };
    for (int i = 0; i < 3; ++i) cycle();  // warm-up: every slot vector reaches 32 items
    const auto buffered_before = seq.stats().buffered;
    AllocationScope scope;
    for (int i = 0; i < 500; ++i) cycle();
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(seq.stats().buffered - buffered_before == 500 * 7);
    CHECK(seq.stats().window_overflows == 0);
    CHECK(seq.inner().count() == 503 * 8 * 32);
}

TEST_CASE("zero_alloc: SpillRing push, eviction, pop and drain never allocate", "[alloc][ring]") {
    spill::SpillRing<std::uint64_t, 64, spill::CountingSpout<>> ring;
    spill::CountingSpout<> reader;
    AllocationScope scope;
    for (std::uint64_t i = 0; i < 100000; ++i) {
        ring.push(i);
        if (i % 7 == 0) (void)ring.pop();
        if (i % 1000 == 0) ring.drain(reader);
    }
    const auto allocations = scope.count();
    CHECK(allocations == 0);
    CHECK(ring.spout().count() + reader.count() + ring.size() + 100000 / 7 + 1 == 100000);
}
