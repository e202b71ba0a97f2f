// Specification of a WorkerPool's life: idle workers block instead of
// spinning (docs/design.md, section 5), destruction flushes and never hangs, and a
// FanInSpout that outlives its pool is detected loudly.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core_test_util.hpp"
#include "spill/spill.hpp"

using spill::test::Item;
using spill::test::make_item;

namespace {

using namespace std::chrono_literals;

/// CPU time (user + system) this process has used, all threads together.
std::chrono::microseconds process_cpu() {
    rusage ru{};
    REQUIRE(::getrusage(RUSAGE_SELF, &ru) == 0);
    const auto us = [](const timeval& tv) { return std::int64_t{tv.tv_sec} * 1'000'000 + tv.tv_usec; };
    return std::chrono::microseconds(us(ru.ru_utime) + us(ru.ru_stime));
}

using Recorder = spill::SpoutRef<spill::CollectSpout<Item>>;

/// A pool whose overflow spouts write into `sinks`, which outlive the pool,
/// so what the destructor flushes can be counted afterwards.
auto recording_pool(std::vector<spill::CollectSpout<Item>>& sinks, std::chrono::microseconds delay) {
    return spill::pool<Item, 64>(sinks.size())
        .overflow([&sinks](std::size_t w) { return Recorder{sinks[w]}; })
        .spawn<std::uint32_t>([delay](auto& ring, std::size_t w, const std::uint32_t& round) {
            if (delay.count() != 0) std::this_thread::sleep_for(delay);
            for (std::uint32_t i = 0; i < 10; ++i) ring.push(make_item(round, w, i));
            if (round == 99) throw std::runtime_error("round 99 fails");
        });
}

std::size_t total(const std::vector<spill::CollectSpout<Item>>& sinks) {
    std::size_t n = 0;
    for (const auto& s : sinks) n += s.size();
    return n;
}

}  // namespace

TEST_CASE("worker_pool: an idle pool uses under 5% of one core", "[pool][idle]") {
    auto pool = spill::pool<int, 64>(2).spawn<int>([](auto& ring, std::size_t, const int& n) {
        for (int i = 0; i < n; ++i) ring.push(i);
    });
    pool.run(10);  // the workers have run and gone back to waiting
    spill::DropSpout drop;
    pool.collect(drop);
    std::this_thread::sleep_for(20ms);  // past the spin phase
    const auto cpu_before = process_cpu();
    const auto wall_before = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(300ms);
    const auto cpu = process_cpu() - cpu_before;
    const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - wall_before);
    INFO("idle pool used " << cpu.count() << " us of CPU in " << wall.count() << " us");
    CHECK(cpu.count() * 20 < wall.count());  // < 5% of one core
    // And it still works after idling.
    pool.run(3);
    CHECK(pool.collect(drop) == 6);
}

TEST_CASE("worker_pool: destruction while idle flushes uncollected items into the overflow spouts", "[pool][lifetime]") {
    std::vector<spill::CollectSpout<Item>> sinks(3);
    std::size_t collected = 0;
    {
        auto pool = recording_pool(sinks, 0us);
        pool.run(1);
        spill::DropSpout drop;
        collected = pool.collect(drop);
        pool.run(2);
        pool.run(3);  // rounds 2 and 3 stay uncollected
    }
    CHECK(collected == 30);
    CHECK(total(sinks) == 60);
    for (std::size_t w = 0; w < sinks.size(); ++w) {
        REQUIRE(sinks[w].size() == 20);
        CHECK(spill::test::first_fifo_break(sinks[w].items(), 3).empty());
    }
}

TEST_CASE("worker_pool: destruction mid-round finishes the round and flushes it", "[pool][lifetime]") {
    std::vector<spill::CollectSpout<Item>> sinks(2);
    const auto start = std::chrono::steady_clock::now();
    {
        auto pool = recording_pool(sinks, 30ms);
        pool.dispatch(1);
        CHECK(pool.in_flight());
    }  // must wait for the sleeping workers, then flush their items
    CHECK(std::chrono::steady_clock::now() - start >= 30ms);
    CHECK(total(sinks) == 20);
}

TEST_CASE("worker_pool: destruction after an error, reported or not, neither hangs nor loses items", "[pool][lifetime]") {
    std::vector<spill::CollectSpout<Item>> sinks(2);
    {
        auto pool = recording_pool(sinks, 0us);
        CHECK_THROWS_AS(pool.run(99), spill::WorkerError);
        pool.dispatch(99);  // a second failure that nobody joins: dropped by the destructor
    }
    CHECK(total(sinks) == 40);  // both failed rounds had pushed their 10 items per worker first
}

TEST_CASE("worker_pool: destroying the pool while a FanInSpout refers to it aborts with a message", "[pool][lifetime][fan_in]") {
    int err[2];
    REQUIRE(::pipe(err) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Child: only the misuse, then a clean exit that must never be reached.
        ::dup2(err[1], STDERR_FILENO);
        ::close(err[0]);
        // Catch2's fatal-signal handler would report the abort as a failed
        // test from the child: restore the default action so the child dies
        // of SIGABRT and the parent judges it.
        ::signal(SIGABRT, SIG_DFL);
        {
            // new auto(prvalue): the pool is built in place (it cannot move).
            auto* raw = new auto(spill::pool<int, 16>(1).spin_limit(std::chrono::microseconds(1)).spawn<int>([](auto& ring, std::size_t, const int& n) { ring.push(n); }));
            std::unique_ptr<std::remove_pointer_t<decltype(raw)>> pool(raw);
            auto fan = pool->fan_in(spill::CollectSpout<int>{});
            pool->run(1);
            fan.flush();
            pool.reset();  // the fan-in is still alive
        }
        ::_exit(0);
    }
    ::close(err[1]);
    std::string message;
    char buf[256];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    CHECK_THAT(message, Catch::Contains("destroyed while 1 FanInSpout/MergerHandle still refer to it"));
}

TEST_CASE("worker_pool: a fan-in destroyed before its pool is fine", "[pool][lifetime][fan_in]") {
    std::optional<spill::CollectSpout<int>> collected;
    {
        auto pool = spill::pool<int, 16>(2).spawn<int>([](auto& ring, std::size_t, const int& n) { ring.push(n); });
        {
            auto fan = pool.fan_in(spill::CollectSpout<int>{});
            pool.run(5);
            fan.flush();
            collected = std::move(fan.inner());
            auto moved = std::move(fan);  // a moved-from fan-in no longer counts
            moved.flush();
        }
    }
    REQUIRE(collected.has_value());
    CHECK(collected->items() == std::vector<int>{5, 5});
}
