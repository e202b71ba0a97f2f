// Specification of the self-calibration floors (run on the CPUs this process
// may use; the VM this was written on has two).
#include <catch2/catch.hpp>

#include <sched.h>

#include <cmath>
#include <vector>

#include "calibrate.hpp"
#include "cpus.hpp"

using namespace spill::measure;
using spill::test::usable_cpus;

namespace {

CalibrationOptions quick() {
    CalibrationOptions o;
    o.trials = 5;
    o.budget = std::chrono::milliseconds(100);
    return o;
}

/// `trials` were asked for; under load fewer may fit in the time box.
void check_summary(const Summary& s, std::size_t trials) {
    CHECK(s.n >= 1);
    CHECK(s.n <= trials);
    CHECK(std::isfinite(s.median));
    CHECK(s.median > 0.0);
    CHECK(s.min <= s.q1);
    CHECK(s.q1 <= s.median);
    CHECK(s.median <= s.q3);
    CHECK(s.q3 <= s.max);
}

}  // namespace

TEST_CASE("calibrate: summary gives the median and quartiles of the trials", "[calibrate]") {
    const Summary s = summarize({5.0, 1.0, 3.0, 2.0, 4.0});
    CHECK(s.n == 5);
    CHECK(s.median == 3.0);
    CHECK(s.min == 1.0);
    CHECK(s.max == 5.0);
    CHECK(s.q1 == 2.0);
    CHECK(s.q3 == 4.0);
    CHECK(s.relative_iqr() == Approx(2.0 / 3.0));
    CHECK(summarize({2.0, 4.0}).median == 3.0);
    CHECK(summarize({}).n == 0);
}

TEST_CASE("calibrate: a figure is expressed as a multiple of its floor", "[calibrate]") {
    CHECK(multiple_of_floor(300.0, 100.0) == 3.0);
    CHECK(std::isnan(multiple_of_floor(300.0, 0.0)));
    CHECK(std::isnan(multiple_of_floor(300.0, -1.0)));
    // Two line transfers shared by the items of one handoff.
    CHECK(handoff_floor_per_item_ns(50.0, 4.0) == 25.0);
    CHECK(handoff_floor_per_item_ns(50.0, 1.0) == 100.0);
    CHECK(std::isnan(handoff_floor_per_item_ns(50.0, 0.0)));
}

TEST_CASE("calibrate: ping-pong round trip between two pinned CPUs is positive and finite", "[calibrate]") {
    const auto cpus = usable_cpus();
    REQUIRE(cpus.size() >= 2);  // the harness needs a pair; so does this test
    const auto opt = quick();
    const PingPongFloor f = calibrate_ping_pong(cpus[0], cpus[1], opt);
    INFO(f.status.reason << " " << f.status.pin_error);
    REQUIRE(f.status.ok);
    CHECK(f.status.pinned);
    check_summary(f.round_trip_ns, opt.trials);
    CHECK(f.round_trips > 0);
    // Sanity: a round trip between cores costs at least a few ns; unless
    // other load shared the CPUs it is far below a scheduler tick.
    CHECK(f.round_trip_ns.median > 5.0);
    CHECK(f.round_trip_low_decile_ns > 0.0);
    CHECK(f.round_trip_low_decile_ns <= f.round_trip_ns.max);
    CHECK(f.status.on_cpu_fraction > 0.0);
    CHECK(f.status.on_cpu_fraction <= 1.0);
    CHECK(f.status.contended == (f.status.median_over_low_decile > 2.0 || f.status.on_cpu_fraction < 0.9));
    if (!f.status.contended) CHECK(f.round_trip_ns.median < 1e5);
    CHECK(f.status.elapsed_s < 0.1 + 0.1 + 0.2);  // box + grace + thread start
    const nlohmann::json j = f;
    CHECK(j.at("round_trip_ns").at("median").get<double>() == f.round_trip_ns.median);
}

TEST_CASE("calibrate: one-way line transfer in both directions is positive and finite", "[calibrate]") {
    const auto cpus = usable_cpus();
    REQUIRE(cpus.size() >= 2);
    const auto opt = quick();
    const LineTransferFloor f = calibrate_line_transfer(cpus[0], cpus[1], opt);
    INFO(f.status.reason << " " << f.status.pin_error);
    REQUIRE(f.status.ok);
    CHECK(std::isfinite(f.one_way_ns));
    CHECK(f.one_way_ns > 0.0);
    CHECK(f.one_way_raw_low_decile_ns > 0.0);
    if (!f.status.contended) CHECK(f.one_way_ns < 1e5);
    CHECK(f.samples > 0);
    CHECK(f.a_to_b_ns.n >= 1);
    CHECK(f.a_to_b_ns.n <= opt.trials);
    CHECK(f.b_to_a_ns.n >= 1);
    CHECK(f.b_to_a_ns.n <= opt.trials);
    CHECK(f.one_way_raw_ns == Approx((f.a_to_b_ns.median + f.b_to_a_ns.median) / 2.0));
    CHECK(f.clock_read_ns >= 0.0);
    CHECK(f.one_way_ns == Approx(f.one_way_raw_ns - f.clock_read_ns));
    CHECK(f.status.elapsed_s < 0.1 + 0.1 + 0.2);  // box + grace + thread start
}

TEST_CASE("calibrate: masked-store rate on one pinned CPU", "[calibrate]") {
    const auto cpus = usable_cpus();
    REQUIRE(!cpus.empty());
    const auto opt = quick();
    const MaskedStoreFloor f = calibrate_masked_store(cpus[0], opt);
    INFO(f.status.reason << " " << f.status.pin_error);
    REQUIRE(f.status.ok);
    check_summary(f.ns_per_store, opt.trials);
    if (!f.status.contended) CHECK(f.ns_per_store.median < 100.0);  // one store to L1: well under 100 ns
    CHECK(f.stores_per_second == Approx(1e9 / f.ns_per_store.median));
    CHECK(f.stores > 0);
    CHECK(f.array_elements == 4096);
}

TEST_CASE("calibrate: a store array that is not a power of two is refused with a reason", "[calibrate]") {
    CalibrationOptions opt = quick();
    opt.store_array_elements = 1000;
    const MaskedStoreFloor f = calibrate_masked_store(0, opt);
    CHECK_FALSE(f.status.ok);
    CHECK_FALSE(f.status.reason.empty());
}

TEST_CASE("calibrate: the same CPU twice is refused with a reason, not measured", "[calibrate]") {
    const PingPongFloor f = calibrate_ping_pong(0, 0, quick());
    CHECK_FALSE(f.status.ok);
    CHECK_FALSE(f.status.reason.empty());
    CHECK(f.round_trip_ns.n == 0);
    const LineTransferFloor g = calibrate_line_transfer(1, 1, quick());
    CHECK_FALSE(g.status.ok);
    CHECK_FALSE(g.status.reason.empty());
    // Exported, what was not measured is null, never 0.
    const nlohmann::json jf = f;
    CHECK(jf["round_trip_ns"]["n"] == 0);
    CHECK(jf["round_trip_ns"]["median"].is_null());
    CHECK(jf["round_trip_ns"]["min"].is_null());
    CHECK(jf["round_trip_low_decile_ns"].is_null());
    const nlohmann::json jg = g;
    CHECK(jg["a_to_b_ns"]["median"].is_null());
    CHECK(jg["one_way_ns"].is_null());
    CHECK(jg["clock_offset_ns"].is_null());
}

TEST_CASE("calibrate: a CPU outside the affinity mask is reported as not pinned", "[calibrate]") {
    CalibrationOptions opt = quick();
    opt.budget = std::chrono::milliseconds(20);
    std::string why;
    CHECK_FALSE(pin_current_thread(CPU_SETSIZE - 1, &why));
    CHECK_FALSE(why.empty());
    const MaskedStoreFloor f = calibrate_masked_store(CPU_SETSIZE - 1, opt);
    CHECK_FALSE(f.status.pinned);
    CHECK_FALSE(f.status.ok);
    CHECK(f.status.reason.find("not pinned") != std::string::npos);
}

TEST_CASE("calibrate: calibrate_floors measures all three floors and exports them", "[calibrate]") {
    const auto cpus = usable_cpus();
    REQUIRE(cpus.size() >= 2);
    CalibrationOptions opt = quick();
    opt.budget = std::chrono::milliseconds(60);
    const std::vector<int> pair{cpus[0], cpus[1]};
    const Floors f = calibrate_floors(pair, opt);
    CHECK(f.ping_pong.status.ok);
    CHECK(f.line_transfer.status.ok);
    CHECK(f.masked_store.status.ok);
    const nlohmann::json j = f;
    for (const char* k : {"cpus", "ping_pong", "line_transfer", "masked_store"}) CHECK(j.contains(k));
    CHECK(j.at("ping_pong").at("status").at("ok") == true);

    const std::vector<int> one{cpus[0]};
    const Floors single = calibrate_floors(one, opt);
    CHECK_FALSE(single.ping_pong.status.ok);
    CHECK_FALSE(single.ping_pong.status.reason.empty());
    CHECK(single.masked_store.status.ok);
    const nlohmann::json js = single;
    CHECK(js.at("line_transfer").at("status").contains("reason"));
}
