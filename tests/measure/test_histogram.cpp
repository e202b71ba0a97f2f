// Specification of the log-bucket latency histogram and the open-loop pacer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "alloc_counter.hpp"
#include "histogram.hpp"

using spill::measure::LatencyHistogram;
using spill::measure::OpenLoopPacer;

namespace {

std::uint64_t nearest_rank(std::vector<std::uint64_t> sorted, double q) {
    std::sort(sorted.begin(), sorted.end());
    const auto n = sorted.size();
    auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    return sorted[rank - 1];
}

std::uint64_t abs_diff(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : b - a; }

/// The documented bound: within half the width of the true value's bucket.
void check_percentiles(const LatencyHistogram& h, const std::vector<std::uint64_t>& values) {
    for (double q : {50.0, 90.0, 99.0, 99.9}) {
        const std::uint64_t exact = nearest_rank(values, q);
        const std::uint64_t got = h.percentile(q);
        INFO("q=" << q << " exact=" << exact << " got=" << got);
        CHECK(abs_diff(got, exact) <= LatencyHistogram::resolution_at(exact) / 2);
        // and so within the relative bound 2^-(S+1)
        CHECK(static_cast<double>(abs_diff(got, exact)) <= static_cast<double>(exact) / 64.0);
    }
    CHECK(h.percentile(100.0) == *std::max_element(values.begin(), values.end()));
    CHECK(h.max() == *std::max_element(values.begin(), values.end()));
    CHECK(h.min() == *std::min_element(values.begin(), values.end()));
}

}  // namespace

TEST_CASE("histogram: every value lies inside its bucket, buckets are at most 2^-S of their lower bound wide",
          "[histogram]") {
    std::mt19937_64 rng(7);
    std::vector<std::uint64_t> probes;
    for (std::uint64_t v = 0; v < 5000; ++v) probes.push_back(v);
    for (int i = 0; i < 20000; ++i) probes.push_back(rng() >> (rng() % 64));
    probes.push_back(std::numeric_limits<std::uint64_t>::max());
    for (std::uint64_t v : probes) {
        const std::size_t i = LatencyHistogram::index_of(v);
        REQUIRE(i < LatencyHistogram::bucket_count);
        REQUIRE(LatencyHistogram::lower_of(i) <= v);
        REQUIRE(v <= LatencyHistogram::upper_of(i));
        if (v >= LatencyHistogram::sub_count) {
            REQUIRE(LatencyHistogram::width_of(i) <= LatencyHistogram::lower_of(i) / LatencyHistogram::sub_count);
        }
    }
    CHECK(LatencyHistogram::index_of(std::numeric_limits<std::uint64_t>::max()) == LatencyHistogram::bucket_count - 1);
    // Buckets tile the range: each starts right after the previous one ends.
    for (std::size_t i = 1; i < LatencyHistogram::bucket_count; ++i) {
        REQUIRE(LatencyHistogram::lower_of(i) == LatencyHistogram::upper_of(i - 1) + 1);
    }
}

TEST_CASE("histogram: small values are recorded exactly", "[histogram]") {
    LatencyHistogram h;
    std::vector<std::uint64_t> values;
    for (std::uint64_t v = 1; v <= 60; ++v) {
        h.record(v);
        values.push_back(v);
    }
    CHECK(h.count() == 60);
    CHECK(h.percentile(50.0) == 30);
    CHECK(h.percentile(99.0) == 60);
    CHECK(h.min() == 1);
    CHECK(h.mean() == Approx(30.5));
}

TEST_CASE("histogram: percentiles of a uniform distribution are within half a bucket of the exact ones",
          "[histogram]") {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::uint64_t> dist(1000, 1000000);
    auto h = std::make_unique<LatencyHistogram>();
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 200000; ++i) {
        const auto v = dist(rng);
        values.push_back(v);
        h->record(v);
    }
    check_percentiles(*h, values);
    // Uniform: the median is near the middle of the range.
    CHECK(h->percentile(50.0) == Approx(500500.0).epsilon(0.02));
}

TEST_CASE("histogram: a bimodal distribution keeps its modes apart in the percentiles", "[histogram]") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> fast(200.0, 10.0);
    std::normal_distribution<double> slow(50000.0, 2000.0);
    std::bernoulli_distribution is_slow(0.05);
    auto h = std::make_unique<LatencyHistogram>();
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 100000; ++i) {
        const double x = is_slow(rng) ? slow(rng) : fast(rng);
        const auto v = static_cast<std::uint64_t>(std::max(1.0, x));
        values.push_back(v);
        h->record(v);
    }
    check_percentiles(*h, values);
    CHECK(h->percentile(50.0) < 300);
    CHECK(h->percentile(99.0) > 40000);
}

TEST_CASE("histogram: merging two histograms equals recording everything in one", "[histogram]") {
    std::mt19937_64 rng(11);
    auto a = std::make_unique<LatencyHistogram>();
    auto b = std::make_unique<LatencyHistogram>();
    auto all = std::make_unique<LatencyHistogram>();
    for (int i = 0; i < 50000; ++i) {
        const std::uint64_t v = rng() % 10000000;
        (i % 3 ? *a : *b).record(v);
        all->record(v);
    }
    a->merge(*b);
    CHECK(a->count() == all->count());
    CHECK(a->min() == all->min());
    CHECK(a->max() == all->max());
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count; ++i) REQUIRE(a->bucket(i) == all->bucket(i));
    CHECK(a->percentile(99.9) == all->percentile(99.9));
}

TEST_CASE("histogram: recording never allocates", "[histogram]") {
    auto h = std::make_unique<LatencyHistogram>();
    std::mt19937_64 rng(5);
    spill::test::AllocationScope scope;
    for (int i = 0; i < 100000; ++i) h->record(rng());
    h->record_n(17, 1000);
    CHECK(scope.count() == 0);
    CHECK(h->count() == 101000);
}

TEST_CASE("histogram: an empty histogram reports zeros", "[histogram]") {
    LatencyHistogram h;
    CHECK(h.count() == 0);
    CHECK(h.percentile(50.0) == 0);
    CHECK(h.percentile(100.0) == 0);
    CHECK(h.min() == 0);
    CHECK(h.max() == 0);
    const nlohmann::json j = h;
    CHECK(j.at("buckets").empty());
}

TEST_CASE("histogram: JSON lists only the non-empty buckets with their bounds", "[histogram]") {
    LatencyHistogram h;
    h.record(5);
    h.record(5);
    h.record(1000);
    h.record(123456789);
    const nlohmann::json j = h;
    CHECK(j.at("count") == 4);
    CHECK(j.at("max") == 123456789);
    for (const char* k : {"p50", "p99", "p99_9", "min", "mean", "sub_bucket_bits", "relative_error_bound"}) {
        CHECK(j.contains(k));
    }
    const auto& buckets = j.at("buckets");
    REQUIRE(buckets.size() == 3);
    std::uint64_t sum = 0;
    for (const auto& b : buckets) {
        CHECK(b.at(0).get<std::uint64_t>() <= b.at(1).get<std::uint64_t>());
        sum += b.at(2).get<std::uint64_t>();
    }
    CHECK(sum == 4);
    CHECK(buckets.at(0) == nlohmann::json::array({5, 5, 2}));
    const auto big = buckets.at(2);
    CHECK(big.at(0).get<std::uint64_t>() <= 123456789U);
    CHECK(big.at(1).get<std::uint64_t>() >= 123456789U);
}

TEST_CASE("pacer: intended send times follow the target rate without drift", "[histogram][pacer]") {
    const OpenLoopPacer p(1000, 1e6);  // 1 M items/s: one every 1000 ns
    CHECK(p.intended_ns(0) == 1000);
    CHECK(p.intended_ns(1) == 2000);
    CHECK(p.intended_ns(12345) == 1000 + 12345000);
    const OpenLoopPacer third(0, 3e6);  // 333.33 ns: rounding must not accumulate
    CHECK(third.intended_ns(3000000) == 1000000000);
    CHECK(third.intended_ns(1) == 333);
    CHECK(third.intended_ns(2) == 667);
}

TEST_CASE("pacer: due_count counts the items whose intended time has passed", "[histogram][pacer]") {
    const OpenLoopPacer p(10000, 1e6);
    CHECK(p.due_count(0) == 0);
    CHECK(p.due_count(9999) == 0);
    CHECK(p.due_count(10000) == 1);
    CHECK(p.due_count(p.intended_ns(5) - 1) == 5);
    CHECK(p.due_count(p.intended_ns(5)) == 6);
    const OpenLoopPacer odd(0, 7e6);
    for (std::uint64_t i = 0; i < 2000; ++i) {
        REQUIRE(odd.due_count(odd.intended_ns(i)) == i + 1);
    }
}

TEST_CASE("pacer: latency from the intended send time exposes a stall that closed-loop timing hides",
          "[histogram][pacer]") {
    // A server that takes 10 us per item and stalls once for 50 ms, offered
    // 10 000 items/s (one per 100 us) for 2000 items.
    constexpr std::uint64_t service = 10000;
    constexpr std::uint64_t stall = 50000000;
    constexpr std::uint64_t n = 2000;
    const OpenLoopPacer pacer(0, 1e4);

    LatencyHistogram open_loop;
    std::uint64_t server_free = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t start = std::max(pacer.intended_ns(i), server_free);
        const std::uint64_t done = start + service + (i == 100 ? stall : 0);
        server_free = done;
        open_loop.record(pacer.latency_ns(i, done));
    }
    // Closed loop: the generator waits for each response and times from its
    // own (late) send, so the stall is one slow sample.
    LatencyHistogram closed_loop;
    for (std::uint64_t i = 0; i < n; ++i) closed_loop.record(service + (i == 100 ? stall : 0));

    const std::uint64_t half_bucket = LatencyHistogram::resolution_at(service) / 2;
    CHECK(abs_diff(closed_loop.percentile(99.0), service) <= half_bucket);
    // Open loop: every item due during the stall (~500 of them) waits.
    CHECK(abs_diff(open_loop.percentile(50.0), service) <= half_bucket);
    CHECK(open_loop.percentile(99.0) > 10000000);
    CHECK(open_loop.max() >= stall);
    CHECK(pacer.latency_ns(0, 0) == 0);  // never negative
}

TEST_CASE("pacer: wait_until_due returns no earlier than the intended time", "[histogram][pacer]") {
    const OpenLoopPacer p(OpenLoopPacer::now_ns(), 1e5);  // every 10 us
    for (std::uint64_t i = 0; i < 20; ++i) {
        const std::uint64_t t = p.wait_until_due(i);
        REQUIRE(t >= p.intended_ns(i));
    }
}
