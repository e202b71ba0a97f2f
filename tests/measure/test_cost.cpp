// Specification of per-thread cost sampling and the per-role ratios.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "cost.hpp"

using namespace spill::measure;

TEST_CASE("cost: a busy thread accumulates CPU time close to its wall time", "[cost]") {
    const ThreadCostMeter meter;
    const auto start = sample_thread_cost();
    // Spin until 30 ms of this thread's CPU time have been used.
    volatile std::uint64_t sink = 0;
    while ((sample_thread_cost() - start).cpu_seconds < 0.03) sink = sink + 1;
    const ThreadCost c = meter.stop();
    CHECK(c.ok);
    CHECK(c.cpu_seconds >= 0.03);
    CHECK(c.cpu_seconds < 1.0);
    CHECK(c.wall_seconds >= c.cpu_seconds * 0.999);
}

TEST_CASE("cost: a sleeping thread blocks (voluntary switches) and uses little CPU", "[cost]") {
    const ThreadCostMeter meter;
    for (int i = 0; i < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(4));
    const ThreadCost c = meter.stop();
    CHECK(c.ok);
    CHECK(c.voluntary_switches >= 5);
    CHECK(c.wall_seconds >= 0.02);
    CHECK(c.cpu_seconds < c.wall_seconds / 2.0);
}

TEST_CASE("cost: each thread samples only itself", "[cost]") {
    ThreadCost other;
    const ThreadCostMeter meter;
    std::thread t([&] {
        const ThreadCostMeter m;
        volatile std::uint64_t sink = 0;
        const auto s = sample_thread_cost();
        while ((sample_thread_cost() - s).cpu_seconds < 0.02) sink = sink + 1;
        other = m.stop();
    });
    t.join();  // blocks this thread: little CPU here
    const ThreadCost mine = meter.stop();
    CHECK(other.cpu_seconds >= 0.02);
    CHECK(mine.cpu_seconds < other.cpu_seconds);
}

TEST_CASE("cost: ratios per million items and per handoff", "[cost]") {
    CHECK(cpu_seconds_per_million_items(0.5, 2000000) == Approx(0.25));
    CHECK(std::isnan(cpu_seconds_per_million_items(0.5, 0)));
    CHECK(switches_per_handoff(30, 1000) == Approx(0.03));
    CHECK(std::isnan(switches_per_handoff(3, 0)));
}

TEST_CASE("cost: samples are summed per role and roles without threads are left out", "[cost]") {
    auto cost = [](double cpu, double wall, std::int64_t vol, std::int64_t invol) {
        ThreadCost c;
        c.cpu_seconds = cpu;
        c.wall_seconds = wall;
        c.voluntary_switches = vol;
        c.involuntary_switches = invol;
        return c;
    };
    const std::vector<RoleSample> samples{
        {Role::producer, cost(1.0, 2.0, 10, 2)},
        {Role::producer, cost(0.5, 2.0, 0, 4)},
        {Role::consumer, cost(2.0, 2.0, 0, 0)},
    };
    const auto roles = summarize_costs(samples, 1000000, 100);
    REQUIRE(roles.size() == 2);
    CHECK(roles[0].role == Role::producer);
    CHECK(roles[0].threads == 2);
    CHECK(roles[0].cpu_seconds_per_million_items == Approx(1.5));
    CHECK(roles[0].voluntary_switches_per_handoff == Approx(0.10));
    CHECK(roles[0].involuntary_switches_per_handoff == Approx(0.06));
    CHECK(roles[0].switches_per_handoff == Approx(0.16));
    CHECK(roles[0].on_cpu_fraction == Approx(1.5 / 4.0));
    CHECK(roles[1].role == Role::consumer);
    CHECK(roles[1].on_cpu_fraction == Approx(1.0));
    const nlohmann::json j = roles[1];
    CHECK(j.at("role") == "consumer");
    CHECK(j.at("switches_per_handoff").get<double>() == 0.0);

    const auto none = summarize_costs(samples, 0, 0);
    const nlohmann::json jn = none[0];
    CHECK(jn.at("cpu_seconds_per_million_items").is_null());  // undefined, not 0
    CHECK(jn.at("switches_per_handoff").is_null());
}
