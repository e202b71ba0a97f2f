// Specification of the placement classes, cross-checked against the kernel's
// own view of the topology in sysfs.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "placement.hpp"

using namespace spill::measure;

namespace {

/// "0-3,8" -> {0,1,2,3,8}; empty set when the file is missing.
std::set<int> read_cpu_list(const std::string& path) {
    std::set<int> out;
    std::ifstream in(path);
    std::string text;
    if (!(in >> text)) return out;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) {
        const auto dash = part.find('-');
        const int lo = std::stoi(part.substr(0, dash));
        const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
        for (int c = lo; c <= hi; ++c) out.insert(c);
    }
    return out;
}

/// CPUs sharing the cache of `level` with `cpu`, from sysfs (empty if unknown).
std::set<int> sharing_cache(int cpu, int level) {
    for (int idx = 0; idx < 8; ++idx) {
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cache/index" + std::to_string(idx);
        std::ifstream lv(dir + "/level");
        std::ifstream ty(dir + "/type");
        int l = 0;
        std::string type;
        if (!(lv >> l) || !(ty >> type)) continue;
        if (l == level && type != "Instruction") return read_cpu_list(dir + "/shared_cpu_list");
    }
    return {};
}

}  // namespace

TEST_CASE("placement: the report always has at least one class with a representative pair", "[placement]") {
    const PlacementReport r = classify_placements();
    INFO(r.summary());
    REQUIRE_FALSE(r.classes.empty());
    if (!r.topology_available) {
        CHECK(r.classes.size() == 1);
        CHECK(r.classes[0].cls == PlacementClass::unknown);
        CHECK_FALSE(r.reason.empty());
        return;
    }
    std::set<PlacementClass> seen;
    std::size_t pairs = 0;
    for (const auto& e : r.classes) {
        CHECK(seen.insert(e.cls).second);  // each class once
        CHECK(e.cpu_a < e.cpu_b);
        CHECK(std::find(r.cpus.begin(), r.cpus.end(), e.cpu_a) != r.cpus.end());
        CHECK(std::find(r.cpus.begin(), r.cpus.end(), e.cpu_b) != r.cpus.end());
        CHECK(e.pairs > 0);
        CHECK(classify_pair(e.cpu_a, e.cpu_b) == e.cls);
        CHECK(r.summary().find(std::string(to_string(e.cls))) != std::string::npos);
        pairs += e.pairs;
    }
    if (r.cpus.size() >= 2) CHECK(pairs == r.cpus.size() * (r.cpus.size() - 1) / 2);
    // Closest class first.
    for (std::size_t i = 1; i < r.classes.size(); ++i) CHECK(r.classes[i - 1].cls < r.classes[i].cls);
    if (r.single_class()) CHECK(r.summary().rfind("one placement class on this machine", 0) == 0);
}

TEST_CASE("placement: classes agree with the kernel's thread siblings and shared caches", "[placement]") {
    const PlacementReport r = classify_placements();
    if (!r.topology_available) {
        CHECK_FALSE(r.reason.empty());
        return;
    }
    for (const auto& e : r.classes) {
        if (e.cls == PlacementClass::unknown) continue;
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(e.cpu_a) + "/topology/";
        const auto siblings = read_cpu_list(base + "thread_siblings_list");
        const auto l2 = sharing_cache(e.cpu_a, 2);
        const auto l3 = sharing_cache(e.cpu_a, 3);
        INFO("class " << to_string(e.cls) << " cpus " << e.cpu_a << "," << e.cpu_b);
        if (siblings.empty() || l2.empty() || l3.empty()) {
            WARN("sysfs does not describe the caches of cpu " << e.cpu_a << "; cross-check not possible");
            continue;
        }
        if (siblings.count(e.cpu_b)) {
            CHECK(e.cls == PlacementClass::same_core);
        } else if (l2.count(e.cpu_b)) {
            CHECK(e.cls == PlacementClass::same_l2);
        } else if (l3.count(e.cpu_b)) {
            CHECK(e.cls == PlacementClass::same_l3);
        } else {
            CHECK(e.cls > PlacementClass::same_l3);
        }
    }
}

TEST_CASE("placement: class names round-trip for the --placement option", "[placement]") {
    for (PlacementClass c : {PlacementClass::same_core, PlacementClass::same_l2, PlacementClass::same_l3,
                             PlacementClass::other_l3, PlacementClass::other_numa, PlacementClass::other_package,
                             PlacementClass::unknown}) {
        CHECK(placement_from_string(to_string(c)) == c);
    }
    CHECK_FALSE(placement_from_string("same-l3").has_value());
}

TEST_CASE("placement: a pair of one CPU with itself is unknown, with a reason", "[placement]") {
    std::string why;
    CHECK(classify_pair(0, 0, &why) == PlacementClass::unknown);
    CHECK_FALSE(why.empty());
}

TEST_CASE("placement: JSON names the classes and says when there is only one", "[placement]") {
    const PlacementReport r = classify_placements();
    const nlohmann::json j = r;
    CHECK(j.at("classes").size() == r.classes.size());
    CHECK(j.at("single_class") == r.single_class());
    CHECK(j.at("classes").at(0).contains("class"));
    CHECK(j.at("summary").get<std::string>() == r.summary());
}
