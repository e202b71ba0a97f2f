// Specification of the per-role hardware counter aggregation
// (spill::measure::summarize_role_counters): sums per role, ratios per item
// and per handoff, and "unavailable with a reason, never zero".
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cost.hpp"

using namespace spill::measure;

namespace {

ThreadCounters thread(Role r, std::vector<std::optional<double>> v, std::vector<std::string> why = {}) {
    ThreadCounters t;
    t.role = r;
    why.resize(v.size());
    t.values = std::move(v);
    t.reasons = std::move(why);
    return t;
}

}  // namespace

TEST_CASE("role counters: values are summed per role and divided per item and per handoff", "[role_counters]") {
    const std::vector<ThreadCounters> in = {
        thread(Role::producer, {1000.0, 10.0}), thread(Role::producer, {3000.0, 30.0}),
        thread(Role::consumer, {500.0, 5.0}), thread(Role::merger, {200.0, 2.0})};
    const auto out = summarize_role_counters(in, 2, 100, 4);
    REQUIRE(out.size() == 3);
    CHECK(out[0].role == Role::producer);
    CHECK(out[0].threads == 2);
    CHECK(*out[0].counters[0].total == 4000.0);
    CHECK(*out[0].counters[0].per_item == 40.0);
    CHECK(*out[0].counters[0].per_handoff == 1000.0);
    CHECK(*out[0].counters[1].total == 40.0);
    CHECK(out[1].role == Role::merger);
    CHECK(*out[1].counters[0].total == 200.0);
    CHECK(out[2].role == Role::consumer);
    CHECK(*out[2].counters[1].per_item == 0.05);
}

TEST_CASE("role counters: roles without threads are omitted; no handoffs gives no per-handoff ratio", "[role_counters]") {
    const std::vector<ThreadCounters> in = {thread(Role::producer, {7.0})};
    const auto out = summarize_role_counters(in, 1, 7, 0);
    REQUIRE(out.size() == 1);
    CHECK(*out[0].counters[0].per_item == 1.0);
    CHECK_FALSE(out[0].counters[0].per_handoff.has_value());
}

TEST_CASE("role counters: an unreadable counter is unavailable with its reason, never zero", "[role_counters]") {
    const std::string why = "PAPI preset event does not exist on this machine";
    const std::vector<ThreadCounters> in = {thread(Role::producer, {std::nullopt, 12.0}, {why, ""}),
                                            thread(Role::consumer, {std::nullopt, 3.0}, {why, ""})};
    const auto out = summarize_role_counters(in, 2, 10, 2);
    REQUIRE(out.size() == 2);
    for (const RoleCounters& rc : out) {
        CHECK_FALSE(rc.counters[0].total.has_value());
        CHECK_FALSE(rc.counters[0].per_item.has_value());
        CHECK_FALSE(rc.counters[0].per_handoff.has_value());
        CHECK(rc.counters[0].unavailable == why);
        CHECK(rc.counters[1].total.has_value());  // the readable one is kept
    }
    nlohmann::json j;
    const std::vector<std::string> names = {"PAPI_TOT_CYC", "PAPI_TOT_INS"};
    role_counters_to_json(j, out[0], names);
    CHECK(j["threads"] == 1);
    CHECK(j["counters"]["PAPI_TOT_CYC"]["total"].is_null());
    CHECK(j["counters"]["PAPI_TOT_CYC"]["unavailable"] == why);
    CHECK(j["counters"]["PAPI_TOT_INS"]["total"] == 12.0);
    CHECK_FALSE(j["counters"]["PAPI_TOT_INS"].contains("unavailable"));
}

TEST_CASE("role counters: one thread of a role without the value makes the role's figure unavailable", "[role_counters]") {
    const std::vector<ThreadCounters> in = {thread(Role::producer, {5.0}), thread(Role::producer, {std::nullopt}, {"PAPI_start failed on this thread"}),
                                            thread(Role::producer, {7.0}), thread(Role::producer, {})};
    const auto out = summarize_role_counters(in, 1, 10, 2);
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].counters[0].total.has_value());
    CHECK(out[0].counters[0].unavailable == "not read on 2 of 4 producer threads: PAPI_start failed on this thread");
}
