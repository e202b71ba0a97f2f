// Specification of spill-bench's typed point record (harness/src/record.hpp):
// statistics that cannot be computed are null with a reason, never zero;
// a point records its scenario's facts and its configuration; the check
// totals and the verdict come from the repetitions; the id and `params` are
// made from one list of parameters.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "figure.hpp"
#include "grid.hpp"
#include "record.hpp"
#include "scenario.hpp"

using namespace spill::bench;

namespace {

ScenarioFacts pool_like() {
    ScenarioFacts f;
    f.name = "pool";
    f.contender = "spill";
    f.job = "P->1";
    f.hands_rings = true;
    f.roles = {"producer", "consumer"};
    f.handoffs = HandoffRule::producers;
    f.floor = FloorKind::handoff;
    f.config = {ConfigValue::capacity_items, ConfigValue::batch_items};
    return f;
}

RepRecord good_rep(std::uint64_t items, double seconds) {
    RepRecord r;
    r.seconds = seconds;
    r.checks = CheckCounts{items, items, 0, 0, 0};
    return r;
}

PointRecord a_point(const ScenarioFacts& f, std::size_t reps) {
    PointRecord p;
    p.spec.scenario = f.name;
    p.spec.params.producers = 2;
    p.spec.params.items = 4000;
    p.spec.params.rounds = 10;
    p.spec.params.ring_size = 256;
    p.facts = &f;
    p.planned_repetitions = reps;
    for (std::size_t k = 0; k < reps; ++k) p.reps.push_back(good_rep(4000, 0.001 * static_cast<double>(k + 1)));
    return p;
}

}  // namespace

TEST_CASE("summarize: median, min, max and coefficient of variation of the repetitions", "[harness][record]") {
    const Stat s = summarize({4.0, 1.0, 3.0, 2.0});
    CHECK(s.n == 4);
    CHECK(*s.median.value == Approx(2.5));
    CHECK(*s.min.value == 1.0);
    CHECK(*s.max.value == 4.0);
    // sample standard deviation sqrt(5/3) over the mean 2.5
    CHECK(*s.cv.value == Approx(std::sqrt(5.0 / 3.0) / 2.5));
}

TEST_CASE("summarize: a statistic that cannot be computed is null with its reason, never 0", "[harness][record]") {
    const json one = to_json(summarize({7.0}));
    CHECK(one["median"] == 7.0);
    CHECK(one["cv"].is_null());
    CHECK(one["undefined"]["cv"].get<std::string>().find("one repetition") != std::string::npos);
    CHECK(one["n"] == 1);
    const json none = to_json(summarize({}));
    for (const char* k : {"median", "min", "max", "cv"}) {
        CHECK(none[k].is_null());
        CHECK_FALSE(none["undefined"][k].get<std::string>().empty());
    }
    const json zero_mean = to_json(summarize({-1.0, 1.0}));
    CHECK(zero_mean["cv"].is_null());
    CHECK(zero_mean["undefined"]["cv"] == "the mean is 0");
    CHECK_FALSE(to_json(summarize({1.0, 2.0})).contains("undefined"));  // nothing undefined: no map
}

TEST_CASE("Figure: a ratio over nothing is undefined and says why", "[harness][record]") {
    json j;
    put(j, "rate", Figure::ratio(5.0, 0.0, "no handoffs"));
    put(j, "fine", Figure::ratio(6.0, 3.0, "unused"));
    CHECK(j["rate"].is_null());
    CHECK(j["undefined"]["rate"] == "no handoffs");
    CHECK(j["fine"] == 2.0);
    CHECK_FALSE(j["undefined"].contains("fine"));
    CHECK_FALSE(Figure::of(std::nan("")).value);  // NaN is not a number to write
}

TEST_CASE("record: a point records its scenario's facts and its configuration", "[harness][record]") {
    const ScenarioFacts f = pool_like();
    const json j = to_json(a_point(f, 3));
    CHECK(j["facts"]["contender"] == "spill");
    CHECK(j["facts"]["hands_rings"] == true);
    CHECK(j["facts"]["job"] == "P->1");
    CHECK(j["facts"]["handoffs_per_round"] == 2);  // one per producer
    CHECK(j["facts"]["roles"] == json::array({"producer", "consumer"}));
    CHECK(j["config"] == json{{"capacity_items", 256}, {"batch_items", 200}});  // 4000 items / (2 producers x 10 rounds)
    CHECK(j["cost"]["handoffs"] == 20);
    // One producer: the job is 1->1.
    PointRecord single = a_point(f, 1);
    single.spec.params.producers = 1;
    CHECK(to_json(single)["facts"]["job"] == "1->1");
}

TEST_CASE("record: handoffs per round follow the scenario's rule", "[harness][record]") {
    Params p;
    p.producers = 3;
    p.mergers = 2;
    p.items = 6000;
    p.rounds = 1;
    CHECK(handoffs_per_round(HandoffRule::none, p) == 0);
    CHECK(handoffs_per_round(HandoffRule::producers, p) == 3);
    CHECK(handoffs_per_round(HandoffRule::producers_and_mergers, p) == 5);  // two stages
    CHECK(handoffs_per_round(HandoffRule::items, p) == 6000);              // a queue hands over every item
}

TEST_CASE("record: totals and the verdict come from the repetitions", "[harness][record]") {
    const ScenarioFacts f = pool_like();
    PointRecord p = a_point(f, 2);
    p.reps[1].checks.merged_items = 7;
    CHECK(p.totals().produced == 8000);
    CHECK(p.totals().merged_items == 7);
    CHECK(p.passed());
    json j = to_json(p);
    CHECK(j["checks"]["merged_items"] == 7);
    CHECK_FALSE(j["checks"].contains("merged_back"));
    CHECK(j["repetitions"][1]["checks"]["merged_items"] == 7);
    p.reps[1].failure = "per-producer FIFO broken: producer 1 delivered seq 4 after seq 5";
    p.reps[1].fifo = false;
    CHECK_FALSE(p.passed());
    CHECK(p.failure() == "repetition 1: per-producer FIFO broken: producer 1 delivered seq 4 after seq 5");
    j = to_json(p);
    CHECK(j["checks"]["passed"] == false);
    CHECK(j["checks"]["fifo"] == false);
    CHECK(j["repetitions"][1]["checks"]["passed"] == false);
    CHECK(j["checks"]["order"].is_null());  // the scenario does not check global order
    // A point that ran fewer repetitions than planned failed.
    PointRecord short_point = a_point(f, 2);
    short_point.planned_repetitions = 3;
    CHECK(short_point.failure() == "2 of 3 repetitions measured");
}

TEST_CASE("record: floor multiples without measured floors are null with the reason", "[harness][record]") {
    const ScenarioFacts f = pool_like();
    const json fm = to_json(a_point(f, 2))["summary"]["floor_multiples"];
    CHECK(fm["ns_per_item"].is_number());
    CHECK(fm["items_per_handoff"] == 200.0);
    CHECK(fm["handoff_floor_per_item_ns"].is_null());
    CHECK(fm["undefined"]["handoff_floor_per_item_ns"] == "the floors were not measured");
    CHECK(fm["item_over_handoff_floor"].is_null());
    PointRecord measured = a_point(f, 2);
    measured.floors.line_ns = Figure::of(50.0);
    const json m = to_json(measured)["summary"]["floor_multiples"];
    CHECK(m["handoff_floor_per_item_ns"] == Approx(0.5));  // 2 x 50 ns / 200 items per handoff
    CHECK(m["item_over_handoff_floor"] == Approx(m["ns_per_item"].get<double>() / 0.5));
    ScenarioFacts baseline = pool_like();
    baseline.floor = FloorKind::none;
    baseline.floor_note = "no floor is defined for a queue baseline";
    const json s = to_json(a_point(baseline, 2))["summary"];
    CHECK(s["floor_multiples"].is_null());
    CHECK(s["undefined"]["floor_multiples"] == "no floor is defined for a queue baseline");
}

TEST_CASE("record: one repetition has no spread: the summary says so instead of 0", "[harness][record]") {
    const ScenarioFacts f = pool_like();
    const json s = to_json(a_point(f, 1))["summary"]["items_per_second"];
    CHECK(s["cv"].is_null());
    CHECK(s["undefined"]["cv"].get<std::string>().find("one repetition") != std::string::npos);
    const std::string table = format_table({table_row(a_point(f, 1))});
    CHECK(table.find(" 0.0 ") == std::string::npos);  // the console table shows "-", not a made-up 0.0
}

TEST_CASE("record: the id and params are made from one list of parameters", "[harness][record][grid]") {
    Params p;
    p.producers = 4;
    p.rate_items_per_s = 5000;
    p.placement = "same_l3";
    const json params = params_json(p);
    std::vector<std::string> keys;
    for (const auto& [k, v] : params.items()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    std::string id = "latency_open";
    for (const std::string& k : keys) id += "|" + k + "=" + (params[k].is_string() ? params[k].get<std::string>() : params[k].dump());
    CHECK(PointSpec{"latency_open", p}.id() == id);
    CHECK(params["rate_items_per_s"] == 5000);
    p.rate_items_per_s = 0;  // not set: in neither
    CHECK_FALSE(params_json(p).contains("rate_items_per_s"));
    CHECK(PointSpec{"latency", p}.id().find("rate_items_per_s") == std::string::npos);
}

TEST_CASE("record: throughput counts delivered items; the produced rate is beside it", "[harness][record]") {
    const ScenarioFacts f = pool_like();
    PointRecord p = a_point(f, 2);
    for (RepRecord& r : p.reps) r.checks = CheckCounts{4000, 3000, 1000, 0, 0};  // a quarter overflowed
    const json j = to_json(p);
    const json& rep = j["repetitions"][0];
    CHECK(rep["items"] == 4000);
    CHECK(rep["items_per_second"].get<double>() == Approx(3000 / 0.001));
    CHECK(rep["produced_items_per_second"].get<double>() == Approx(4000 / 0.001));
    CHECK(j["summary"]["items_per_second"]["median"].get<double>() < j["summary"]["produced_items_per_second"]["median"].get<double>());
    CHECK(table_row(p).items_per_second.median.value == j["summary"]["items_per_second"]["median"].get<double>());
}

TEST_CASE("record: a queue's batch is its configuration; busy neighbours and crowded producers are facts of the point", "[harness][record]") {
    ScenarioFacts f = pool_like();
    f.name = "baseline_q";
    f.contender = "q";
    f.handoffs = HandoffRule::items;
    f.floor = FloorKind::none;
    f.floor_note = "no floor";
    f.sweeps.batch = true;
    PointRecord p = a_point(f, 1);
    p.spec.params.batch = 64;
    p.spec.params.contend = 1;
    p.spec.params.producers = 4;
    p.logical_cpus = 2;
    const json j = to_json(p);
    CHECK(j["config"] == json{{"capacity_items", 256}, {"batch_items", 64}});
    CHECK(j["facts"]["busy_neighbours"] == 1);
    CHECK(j["facts"]["producers_exceed_cpus"] == true);
    CHECK(j["params"]["batch"] == 64);
    CHECK(j["params"]["contend"] == 1);
    p.spec.params.producers = 2;
    p.spec.params.contend = 0;
    CHECK(to_json(p)["facts"]["producers_exceed_cpus"] == false);
    CHECK(to_json(p)["facts"]["busy_neighbours"] == 0);
    CHECK_FALSE(to_json(p)["params"].contains("contend"));
    // Without a bulk call the batch is the round size, items / (producers x rounds).
    p.spec.params.batch = 0;
    CHECK(to_json(p)["config"]["batch_items"] == 4000 / (2 * 10));
}
