// Specification of the Verifier (harness/src/scenario.hpp), the checking
// sink at the end of every spill-bench scenario: a span handed to send_all
// is checked exactly as the same items sent one by one, whichever way the
// producers' runs fall across spans; a FIFO break or an unknown producer is
// caught wherever it sits in a run.
#include <catch2/catch.hpp>

#include <vector>

#include "scenario.hpp"

using namespace spill::bench;

namespace {

Verifier::Config three_producers() {
    Verifier::Config c;
    c.producers = 3;
    return c;
}

/// Runs of `len` items per producer, round-robin over `producers`, each
/// producer's sequence dense from 0.
std::vector<Item> interleaved_runs(std::uint32_t producers, std::size_t len, std::size_t runs) {
    std::vector<Item> out;
    std::vector<std::uint64_t> next(producers, 0);
    for (std::size_t r = 0; r < runs; ++r) {
        const auto p = static_cast<std::uint32_t>(r % producers);
        for (std::size_t i = 0; i < len; ++i) out.push_back(Item{p, 1, next[p]++});
    }
    return out;
}

/// Hands `items` to `v` as spans of `chunk` items (the last may be shorter).
void send_in_spans(Verifier& v, std::vector<Item>& items, std::size_t chunk) {
    for (std::size_t i = 0; i < items.size(); i += chunk) {
        const std::size_t n = std::min(chunk, items.size() - i);
        REQUIRE(v.send_all(std::span<Item>(items.data() + i, n)) == n);
    }
}

/// Feeds `items` to one Verifier as spans of `chunk` items and to another
/// item by item; both must agree on every observable.
void same_as_one_by_one(std::vector<Item> items, std::size_t chunk) {
    Verifier spans(three_producers());
    Verifier single(three_producers());
    send_in_spans(spans, items, chunk);
    for (const Item& x : items) single.send(x);
    CHECK(spans.delivered() == single.delivered());
    CHECK(spans.received() == single.received());
    CHECK(spans.fifo() == single.fifo());
    CHECK(spans.message() == single.message());
}

}  // namespace

TEST_CASE("verifier: a clean stream passes, in spans of any size", "[verifier]") {
    auto items = interleaved_runs(3, 5, 12);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{5}, std::size_t{7}, items.size()}) {
        Verifier v(three_producers());
        send_in_spans(v, items, chunk);
        CHECK(v.fifo());
        CHECK(v.delivered() == items.size());
        CHECK(v.message().empty());
    }
}

TEST_CASE("verifier: a sequence number going back inside a run breaks FIFO", "[verifier]") {
    auto items = interleaved_runs(3, 6, 6);
    items[9].seq = items[7].seq;  // producer 1's run: seq 1 again after 2
    Verifier v(three_producers());
    v.send_all(items);
    CHECK_FALSE(v.fifo());
    CHECK(v.delivered() == items.size());
    CHECK(v.message().find("producer 1 delivered seq 1 after seq 2") != std::string::npos);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{4}, std::size_t{9}, items.size()}) same_as_one_by_one(items, chunk);
}

TEST_CASE("verifier: a run that starts behind the producer's last item breaks FIFO", "[verifier]") {
    auto items = interleaved_runs(3, 4, 6);
    for (std::size_t i = 12; i < 16; ++i) items[i].seq -= 2;  // producer 0's second run starts at seq 2, after seq 3
    Verifier v(three_producers());
    v.send_all(items);
    CHECK_FALSE(v.fifo());
    CHECK(v.message().find("producer 0 delivered seq 2 after seq 3") != std::string::npos);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{4}, std::size_t{5}, items.size()}) same_as_one_by_one(items, chunk);
}

TEST_CASE("verifier: an item from an unknown producer fails, and the run around it is still checked", "[verifier]") {
    auto items = interleaved_runs(3, 5, 3);
    items[2].producer = 7;  // inside producer 0's first run
    items[4].seq = 0;       // and a FIFO break after it in the same run: the first failure is the one reported
    Verifier v(three_producers());
    v.send_all(items);
    CHECK(v.delivered() == items.size());
    CHECK(v.message() == "item from unknown producer 7");
    CHECK_FALSE(v.fifo());
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, items.size()}) same_as_one_by_one(items, chunk);
}
