// Specifications of the baseline queue adapters (harness/baselines): every
// contender this build has moves each producer's keys exactly once and in
// order into spill-micro's CheckSink, at tiny sizes that wrap the queues
// many times, with one, two and four producers; keeps what a spout refuses
// (the failure rule F2); says which configuration it cannot run; returns
// from every waiting call once shut down; and, in CI, is built for every
// contender (a library CI lacks fails the run with the contenders' names).
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <future>
#include <set>
#include <string_view>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "baselines/contenders.hpp"
#include "common.hpp"  // harness/micro: CheckSink, key_of

namespace bl = spill::baselines;
using spill::micro::CheckSink;
using spill::micro::key_of;

namespace {

constexpr std::size_t kCapSmall = 64;
constexpr std::size_t kCapLarge = 256;
/// How long one stream may take before the test calls it lost.
constexpr auto kPatience = std::chrono::seconds(10);

/// Streams `per_producer` keys from each of cfg.producers threads through
/// a Q into `out`; the consumer retries after a spout's throw (F2: it took
/// nothing, the adapter keeps the items). Returns false if a producer
/// failed or the stream did not finish within kPatience.
template <class Q, class Out>
bool stream(const bl::Config& cfg, std::uint64_t per_producer, Out& out) {
    Q q(cfg);
    std::atomic<bool> failed{false};
    std::vector<std::thread> producers;
    for (std::size_t p = 0; p < cfg.producers; ++p) {
        producers.emplace_back([&q, &failed, p, per_producer] {
            try {
                auto prod = q.producer(p);
                for (std::uint64_t i = 0; i < per_producer;) {
                    auto gen = [p, i](std::size_t k) noexcept { return key_of(p, i + k); };
                    const std::size_t n = prod.enqueue(per_producer - i, gen);
                    if (n == 0) return;
                    i += n;
                }
            } catch (...) {
                failed = true;
                q.shutdown();
            }
        });
    }
    // A lost item would leave the consumer waiting for ever: a watchdog
    // shuts the queue down after kPatience, and the run fails.
    std::promise<void> finished;
    std::thread watchdog([&q, &failed, done = finished.get_future()] {
        if (done.wait_for(kPatience) == std::future_status::timeout) {
            failed = true;
            q.shutdown();
        }
    });
    auto consumer = q.consumer();
    const std::uint64_t total = per_producer * cfg.producers;
    std::uint64_t delivered = 0;
    while (delivered < total && !failed) {
        try {
            delivered += consumer.deliver(total - delivered, out);
        } catch (const std::runtime_error&) {
            // the spout failed having taken nothing: offer the same items again
        }
    }
    for (auto& t : producers) t.join();
    finished.set_value();
    watchdog.join();
    return !failed;
}

/// The configurations the smoke test runs for Q: capacities 64 and 256,
/// batches 1 (per-item) or 1, 16 and the capacity (bulk), 1, 2 and 4 producers.
template <class Q>
std::vector<bl::Config> smoke_configs() {
    std::vector<bl::Config> out;
    for (std::size_t cap : {kCapSmall, kCapLarge}) {
        const std::vector<std::size_t> batches =
            Q::traits.batching == bl::Batching::per_item ? std::vector<std::size_t>{1} : std::vector<std::size_t>{1, 16, cap};
        for (std::size_t batch : batches)
            for (std::size_t p : {1, 2, 4})
                if (Q::refusal({p, cap, batch}).empty()) out.push_back({p, cap, batch});
    }
    return out;
}

std::string describe(std::string_view name, const bl::Config& c) {
    return std::string(name) + " P=" + std::to_string(c.producers) + " cap=" + std::to_string(c.capacity) + " batch=" + std::to_string(c.batch);
}

/// Takes at most 3 items per call, and every 4th call throws having taken nothing.
struct StingySpout {
    CheckSink* inner;
    int calls = 0;
    void send(std::uint64_t&& k) { inner->send(std::move(k)); }
    std::size_t send_all(std::span<std::uint64_t> keys) {
        if (++calls % 4 == 0) throw std::runtime_error("stingy spout: refused");
        return inner->send_all(keys.first(std::min<std::size_t>(3, keys.size())));
    }
    void flush() noexcept {}
};

/// A 16-byte item, as spill-bench moves: the key and a copy of it.
struct Wide {
    std::uint64_t key = 0;
    std::uint64_t copy = 0;
};

/// Unwraps Wide items into a CheckSink, and checks the copy.
struct WideSpout {
    CheckSink* inner;
    bool copies_match = true;
    void send(Wide&& w) {
        copies_match &= w.copy == w.key;
        inner->send(std::uint64_t{w.key});
    }
    std::size_t send_all(std::span<Wide> items) {
        for (Wide& w : items) send(std::move(w));
        return items.size();
    }
    void flush() noexcept {}
};

}  // namespace

TEST_CASE("baselines: every contender delivers each producer's keys exactly once and in order", "[baselines]") {
    std::set<std::string_view> ran;
    bl::for_each_contender<std::uint64_t, kCapSmall, kCapLarge>([&]<class Q>() {
        static_assert(bl::Queue<Q>);
        const auto configs = smoke_configs<Q>();
        REQUIRE_FALSE(configs.empty());
        ran.insert(Q::traits.name);
        for (const bl::Config& c : configs) {
            INFO(describe(Q::traits.name, c));
            constexpr std::uint64_t kPerProducer = 20000;
            CheckSink sink;
            REQUIRE(stream<Q>(c, kPerProducer, sink));
            CHECK(sink.ordered());
            CHECK(sink.count() == c.producers * kPerProducer);
            CHECK(sink.complete(c.producers, kPerProducer));
        }
    });
    // the twelve contenders, less those whose library this build did not find
    CHECK(ran.size() + bl::left_out().size() == 12);
    CHECK(ran.count("mutex_deque") == 1);
}

TEST_CASE("baselines: items a spout refuses stay with the consumer and are offered again", "[baselines]") {
    bl::for_each_contender<std::uint64_t, kCapSmall>([]<class Q>() {
        for (std::size_t p : {1, 2}) {
            const bl::Config c{p, kCapSmall, Q::traits.batching == bl::Batching::per_item ? 1u : 16u};
            if (!Q::refusal(c).empty()) continue;
            INFO(describe(Q::traits.name, c));
            constexpr std::uint64_t kPerProducer = 2000;
            CheckSink sink;
            StingySpout stingy{&sink};
            REQUIRE(stream<Q>(c, kPerProducer, stingy));
            CHECK(sink.complete(p, kPerProducer));
        }
    });
}

TEST_CASE("baselines: every contender moves 16-byte items", "[baselines]") {
    bl::for_each_contender<Wide, kCapSmall>([]<class Q>() {
        const bl::Config c{2, kCapSmall, Q::traits.batching == bl::Batching::per_item ? 1u : 16u};
        const bl::Config one{1, c.capacity, c.batch};
        const bl::Config& use = Q::refusal(c).empty() ? c : one;
        if (!Q::refusal(use).empty()) return;
        INFO(describe(Q::traits.name, use));
        constexpr std::uint64_t kPerProducer = 2000;
        CheckSink sink;
        WideSpout wide{&sink};
        // the generator of stream() makes uint64_t keys: wrap it
        Q q(use);
        std::vector<std::thread> producers;
        for (std::size_t p = 0; p < use.producers; ++p) {
            producers.emplace_back([&q, p] {
                auto prod = q.producer(p);
                for (std::uint64_t i = 0; i < kPerProducer;) {
                    auto gen = [p, i](std::size_t k) noexcept { return Wide{key_of(p, i + k), key_of(p, i + k)}; };
                    i += prod.enqueue(kPerProducer - i, gen);
                }
            });
        }
        auto consumer = q.consumer();
        const std::uint64_t total = kPerProducer * use.producers;
        while (sink.count() < total) (void)consumer.deliver(total - sink.count(), wide);
        for (auto& t : producers) t.join();
        CHECK(wide.copies_match);
        CHECK(sink.complete(use.producers, kPerProducer));
    });
}

TEST_CASE("baselines: a configuration a queue cannot run is refused with a line naming the value", "[baselines]") {
    bl::for_each_contender<std::uint64_t, kCapSmall>([]<class Q>() {
        INFO(Q::traits.name);
        const bool per_item = Q::traits.batching == bl::Batching::per_item;
        const bl::Config bad = per_item ? bl::Config{1, kCapSmall, 4} : bl::Config{1, kCapSmall, kCapSmall + 1};
        const std::string why = Q::refusal(bad);
        CHECK_THAT(why, Catch::Contains(std::string(Q::traits.name)) && Catch::Contains("batch=" + std::to_string(bad.batch)));
        CHECK(why.find('\n') == std::string::npos);
        CHECK_THROWS_AS(Q(bad), std::invalid_argument);
        CHECK_THAT(Q::refusal({0, kCapSmall, 1}), Catch::Contains("producers=0"));
        if (Q::traits.name == "atomic_queue")  // one shared queue does not keep each producer's order
            CHECK_THAT(Q::refusal({2, kCapSmall, 1}), Catch::Contains("producers=2"));
    });
}

TEST_CASE("baselines: shutdown returns every waiting producer and consumer", "[baselines]") {
    bl::for_each_contender<std::uint64_t, kCapSmall>([]<class Q>() {
        const bl::Config c{1, kCapSmall, Q::traits.batching == bl::Batching::per_item ? 1u : 16u};
        if (!Q::refusal(c).empty()) return;
        INFO(Q::traits.name);
        {  // a consumer waiting on an empty queue
            Q q(c);
            CheckSink sink;
            std::atomic<std::size_t> got{99};
            std::thread waiter([&] {
                auto consumer = q.consumer();
                got = consumer.deliver(10, sink);
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            q.shutdown();
            waiter.join();
            CHECK(got == 0);
            CHECK(sink.count() == 0);
        }
        {  // a producer waiting on a full queue
            Q q(c);
            std::atomic<std::size_t> got{99};
            std::thread waiter([&] {
                auto prod = q.producer(0);
                std::uint64_t i = 0;
                auto gen = [&i](std::size_t k) noexcept { return key_of(0, i + k); };
                std::size_t n = 0;
                while ((n = prod.try_enqueue(1 << 20, gen)) != 0) i += n;  // fill it
                got = prod.enqueue(1 << 20, gen);
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            q.shutdown();
            waiter.join();
            CHECK(got == 0);
        }
    });
}

TEST_CASE("baselines: in CI every contender is built (a left-out one fails here, named)", "[baselines]") {
    std::string missing;
    for (std::string_view n : bl::left_out()) missing += (missing.empty() ? "" : ", ") + std::string(n);
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string_view(ci) == "true") {
        INFO("contenders left out of this build (their library was not found): " << missing);
        CHECK(missing.empty());
    } else if (!missing.empty()) {
        WARN("contenders left out of this build (their library was not found): " << missing);
    }
}
