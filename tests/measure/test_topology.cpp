// Specification of topologies that are not this machine's (an XML file as
// lstopo exports it, a synthetic description), of the pinning orders on them
// and of their placement classes.
//
// Every expected CPU list below is worked out by hand from the topology's
// description (the comment above each case shows the layout), not taken from
// the code's output. Synthetic PUs are numbered in tree order unless the
// description gives `indexes`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "placement.hpp"
#include "topology.hpp"

using namespace spill::measure;

namespace {

using Ints = std::vector<int>;

Topology synthetic(const std::string& desc) { return Topology::load(TopologySource::from_option("synthetic:" + desc)); }

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string_view(ci) == "true";
}

/// False (and says why) when this build cannot load topologies: without
/// hwloc. In CI that is a failure, elsewhere a warning.
bool can_load(const Topology& t) {
    if (t.loaded()) return true;
    const bool no_hwloc = t.error().find("built without hwloc") != std::string::npos;
    if (no_hwloc && !in_ci()) {
        WARN("topology specifications not checked: " << t.error());
        return false;
    }
    FAIL("cannot load " << t.source().describe() << ": " << t.error());
    return false;
}

struct Expected {
    PlacementClass cls;
    int cpu_a, cpu_b;
    std::size_t pairs;
};

/// The report's classes are exactly `want`, closest first.
void check_classes(const PlacementReport& r, const std::vector<Expected>& want) {
    INFO(r.summary());
    REQUIRE(r.classes.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("class " << to_string(want[i].cls));
        CHECK(r.classes[i].cls == want[i].cls);
        CHECK(r.classes[i].cpu_a == want[i].cpu_a);
        CHECK(r.classes[i].cpu_b == want[i].cpu_b);
        CHECK(r.classes[i].pairs == want[i].pairs);
    }
}

/// Where one PU sits: the ids of its core, L2, L3, NUMA node and package
/// (-1: the topology has no such level above it).
struct Place {
    int core, l2, l3, numa, package;
};

/// The class every pair must have, from a hand-written table of where each
/// PU sits: the nearest level the two share decides.
PlacementClass expected_class(const Place& a, const Place& b) {
    if (a.core == b.core) return PlacementClass::same_core;
    if (a.l2 >= 0 && a.l2 == b.l2) return PlacementClass::same_l2;
    if (a.l3 >= 0 && a.l3 == b.l3) return PlacementClass::same_l3;
    if (a.package != b.package) return PlacementClass::other_package;
    if (a.numa != b.numa) return PlacementClass::other_numa;
    return PlacementClass::other_l3;
}

void check_every_pair(const Topology& t, const std::map<int, Place>& where) {
    REQUIRE(t.pus().size() == where.size());
    for (const auto& [a, pa] : where)
        for (const auto& [b, pb] : where) {
            if (a == b) continue;
            INFO("cpus " << a << "," << b);
            CHECK(classify_pair(t, a, b) == expected_class(pa, pb));
        }
}

}  // namespace

TEST_CASE("topology: a source is an XML file name or synthetic:DESCRIPTION", "[topology]") {
    const TopologySource s = TopologySource::from_option("synthetic:pack:2 core:2 pu:1");
    CHECK(s.kind == TopologySource::Kind::synthetic);
    CHECK(s.text == "pack:2 core:2 pu:1");
    CHECK(s.option() == "synthetic:pack:2 core:2 pu:1");
    CHECK(s.describe() == "synthetic topology 'pack:2 core:2 pu:1'");
    const TopologySource x = TopologySource::from_option("target.xml");
    CHECK(x.kind == TopologySource::Kind::xml);
    CHECK(x.text == "target.xml");
    CHECK(x.describe() == "XML file 'target.xml'");
    CHECK(TopologySource{}.describe() == "this machine");
}

// SMT, Linux-style numbering: one package, one L3, two L2s of two cores,
// two hardware threads per core; the sibling of cpu c is c + 4.
//   L2#0: core0 {0,4}  core1 {1,5}      L2#1: core2 {2,6}  core3 {3,7}
TEST_CASE("topology: SMT siblings numbered apart (pack:1 l3:1 l2:2 core:2 pu:2, indexes)", "[topology]") {
    const Topology t = synthetic("pack:1 l3:1 l2:2 core:2 pu:2(indexes=0,4,1,5,2,6,3,7)");
    if (!can_load(t)) return;
    CHECK_FALSE(t.is_this_machine());
    CHECK(t.counts().pus == 8);
    CHECK(t.counts().cores == 4);
    CHECK(t.counts().l2 == 2);
    // compact: both threads of core 0, then of core 1, ...
    CHECK(pin_order(t, PinOrder::compact) == Ints{0, 4, 1, 5, 2, 6, 3, 7});
    // scatter: cores alternate between the L2s (core0, core2, core1, core3),
    // first threads before any sibling.
    CHECK(pin_order(t, PinOrder::scatter) == Ints{0, 2, 1, 3, 4, 6, 5, 7});
    // 28 pairs: 4 siblings; 2 x (6 - 2) = 8 within an L2; the other 16 share only the L3.
    check_classes(classify_placements(t), {{PlacementClass::same_core, 0, 4, 4},
                                           {PlacementClass::same_l2, 0, 1, 8},
                                           {PlacementClass::same_l3, 0, 2, 16}});
    check_every_pair(t, {{0, {0, 0, 0, 0, 0}}, {4, {0, 0, 0, 0, 0}}, {1, {1, 0, 0, 0, 0}}, {5, {1, 0, 0, 0, 0}},
                         {2, {2, 1, 0, 0, 0}}, {6, {2, 1, 0, 0, 0}}, {3, {3, 1, 0, 0, 0}}, {7, {3, 1, 0, 0, 0}}});
}

// Two NUMA nodes in one package, two L3s per node, two single-thread cores per L3:
//   NUMA0: L3#0 {0,1}  L3#1 {2,3}      NUMA1: L3#2 {4,5}  L3#3 {6,7}
TEST_CASE("topology: two NUMA nodes with split L3s (pack:1 numa:2 l3:2 core:2 pu:1)", "[topology]") {
    const Topology t = synthetic("pack:1 numa:2 l3:2 core:2 pu:1");
    if (!can_load(t)) return;
    CHECK(t.counts().numa_nodes == 2);
    CHECK(t.counts().l3 == 4);
    CHECK(pin_order(t, PinOrder::compact) == Ints{0, 1, 2, 3, 4, 5, 6, 7});
    // scatter: NUMA nodes alternate, then the L3s inside each:
    // core0 (N0 L3#0), core4 (N1 L3#2), core2 (N0 L3#1), core6 (N1 L3#3), core1, core5, core3, core7.
    CHECK(pin_order(t, PinOrder::scatter) == Ints{0, 4, 2, 6, 1, 5, 3, 7});
    // 28 pairs: 4 inside an L3; 2 x (2 x 2) = 8 across L3s of one node; 4 x 4 = 16 across the nodes.
    check_classes(classify_placements(t), {{PlacementClass::same_l3, 0, 1, 4},
                                           {PlacementClass::other_l3, 0, 2, 8},
                                           {PlacementClass::other_numa, 0, 4, 16}});
    check_every_pair(t, {{0, {0, -1, 0, 0, 0}}, {1, {1, -1, 0, 0, 0}}, {2, {2, -1, 1, 0, 0}}, {3, {3, -1, 1, 0, 0}},
                         {4, {4, -1, 2, 1, 0}}, {5, {5, -1, 2, 1, 0}}, {6, {6, -1, 3, 1, 0}}, {7, {7, -1, 3, 1, 0}}});
}

// Two packages, one L3 each, two cores of two threads per package:
//   package0: core0 {0,1}  core1 {2,3}      package1: core2 {4,5}  core3 {6,7}
TEST_CASE("topology: two packages with SMT (pack:2 l3:1 core:2 pu:2)", "[topology]") {
    const Topology t = synthetic("pack:2 l3:1 core:2 pu:2");
    if (!can_load(t)) return;
    CHECK(t.counts().packages == 2);
    CHECK(pin_order(t, PinOrder::compact) == Ints{0, 1, 2, 3, 4, 5, 6, 7});
    // scatter: packages alternate (core0, core2, core1, core3), first threads first.
    CHECK(pin_order(t, PinOrder::scatter) == Ints{0, 4, 2, 6, 1, 5, 3, 7});
    // 28 pairs: 4 siblings; 2 x (6 - 2) = 8 across cores of one package; 4 x 4 = 16 across packages.
    check_classes(classify_placements(t), {{PlacementClass::same_core, 0, 1, 4},
                                           {PlacementClass::same_l3, 0, 2, 8},
                                           {PlacementClass::other_package, 0, 4, 16}});
    check_every_pair(t, {{0, {0, -1, 0, 0, 0}}, {1, {0, -1, 0, 0, 0}}, {2, {1, -1, 0, 0, 0}}, {3, {1, -1, 0, 0, 0}},
                         {4, {2, -1, 1, 0, 1}}, {5, {2, -1, 1, 0, 1}}, {6, {3, -1, 1, 0, 1}}, {7, {3, -1, 1, 0, 1}}});
}

// A two-socket server with every level: 2 packages x 2 NUMA nodes x 2 L3s x
// 2 L2s x 2 cores x 2 threads = 64 PUs in tree order: core c is {2c, 2c+1},
// an L2 holds 4 PUs, an L3 8, a NUMA node 16, a package 32.
TEST_CASE("topology: a two-socket server has every placement class (pack:2 numa:2 l3:2 l2:2 core:2 pu:2)", "[topology]") {
    const Topology t = synthetic("pack:2 numa:2 l3:2 l2:2 core:2 pu:2");
    if (!can_load(t)) return;
    const Topology::Counts c = t.counts();
    CHECK((c.packages == 2 && c.numa_nodes == 4 && c.l3 == 8 && c.l2 == 16 && c.cores == 32 && c.pus == 64));
    Ints tree(64);
    for (int i = 0; i < 64; ++i) tree[static_cast<std::size_t>(i)] = i;
    CHECK(pin_order(t, PinOrder::compact) == tree);
    // scatter: packages alternate, then NUMA nodes, L3s, L2s: cores 0, 16, 8, 24, 4, 20, 12, 28, ...
    // (first threads 2c), and the 32 second threads come after the 32 first ones.
    const Ints s = pin_order(t, PinOrder::scatter);
    REQUIRE(s.size() == 64);
    CHECK(Ints(s.begin(), s.begin() + 8) == Ints{0, 32, 16, 48, 8, 40, 24, 56});
    for (std::size_t i = 0; i < 32; ++i) {
        CHECK(s[i] % 2 == 0);
        CHECK(s[i + 32] == s[i] + 1);
    }
    // Pairs: 32 siblings; 16 L2 x 4; 8 L3 x 16; 4 nodes x 64; 2 packages x 256; 32 x 32 across packages (2016 in all).
    check_classes(classify_placements(t), {{PlacementClass::same_core, 0, 1, 32},
                                           {PlacementClass::same_l2, 0, 2, 64},
                                           {PlacementClass::same_l3, 0, 4, 128},
                                           {PlacementClass::other_l3, 0, 8, 256},
                                           {PlacementClass::other_numa, 0, 16, 512},
                                           {PlacementClass::other_package, 0, 32, 1024}});
    std::map<int, Place> where;
    for (int p = 0; p < 64; ++p) where[p] = Place{p / 2, p / 4, p / 8, p / 16, p / 32};
    check_every_pair(t, where);
}

// tests/measure/fixtures/two-packages-smt.xml (its README says how lstopo made it):
//   package0 (NUMA0, L3#0): core0 {0,4} core1 {1,5}      package1 (NUMA1, L3#1): core2 {2,6} core3 {3,7}
// each core with its own L2.
TEST_CASE("topology: an XML file as lstopo exports it", "[topology]") {
    const char* root = std::getenv("SPILL_SOURCE_ROOT");
    REQUIRE(root != nullptr);
    const std::string file = std::string(root) + "/tests/measure/fixtures/two-packages-smt.xml";
    const Topology t = Topology::load(TopologySource::from_option(file));
    if (!can_load(t)) return;
    CHECK(t.source().kind == TopologySource::Kind::xml);
    CHECK_FALSE(t.is_this_machine());
    const Topology::Counts c = t.counts();
    CHECK((c.packages == 2 && c.numa_nodes == 2 && c.l3 == 2 && c.l2 == 4 && c.cores == 4 && c.pus == 8));
    CHECK(pin_order(t, PinOrder::compact) == Ints{0, 4, 1, 5, 2, 6, 3, 7});
    CHECK(pin_order(t, PinOrder::scatter) == Ints{0, 2, 1, 3, 4, 6, 5, 7});
    // A pair of cores shares only the L3 (each has its own L2): 2 x (6 - 2) = 8 pairs.
    check_classes(classify_placements(t), {{PlacementClass::same_core, 0, 4, 4},
                                           {PlacementClass::same_l3, 0, 1, 8},
                                           {PlacementClass::other_package, 0, 2, 16}});
    check_every_pair(t, {{0, {0, 0, 0, 0, 0}}, {4, {0, 0, 0, 0, 0}}, {1, {1, 1, 0, 0, 0}}, {5, {1, 1, 0, 0, 0}},
                         {2, {2, 2, 1, 1, 1}}, {6, {2, 2, 1, 1, 1}}, {3, {3, 3, 1, 1, 1}}, {7, {3, 3, 1, 1, 1}}});
    // The same machine described synthetically has the same structure; a different one does not.
    const Topology same = synthetic("pack:2 numa:1 l3:1 l2:2 core:1 pu:2(indexes=0,4,1,5,2,6,3,7)");
    CHECK(t.difference(same).empty());
    const std::string diff = t.difference(synthetic("pack:2 numa:1 l3:1 l2:2 core:1 pu:2"));
    CHECK(diff.find("cores differ") != std::string::npos);
}

TEST_CASE("topology: this machine's topology is this machine, and equals itself", "[topology]") {
    const Topology here = Topology::machine();
    if (!can_load(here)) return;
    CHECK(here.is_this_machine());
    CHECK(here.difference(Topology::machine()).empty());
    const PlacementReport r = classify_placements(here);
    CHECK(r.where == "this machine");
    CHECK(r.summary().find("on this machine") != std::string::npos);
    const std::string diff = here.difference(synthetic("pack:3 core:3 pu:3"));
    CHECK(diff.find("PUs differ") != std::string::npos);  // 27 PUs: no machine this test runs on has exactly that grouping
}

TEST_CASE("topology: bad input says what is wrong with it", "[topology]") {
    if (!can_load(synthetic("pack:1 core:1 pu:1"))) return;
    struct Bad {
        std::string option;
        std::string says;
    };
    const std::string dir = std::getenv("SPILL_SOURCE_ROOT") ? std::getenv("SPILL_SOURCE_ROOT") : ".";
    for (const Bad& b : {Bad{"/nonexistent/target.xml", "cannot read XML file '/nonexistent/target.xml'"},
                         Bad{dir, "it is a directory"},
                         Bad{dir + "/tests/measure/fixtures/README.md", "is not a valid hwloc XML topology"},
                         Bad{"synthetic:", "needs a description after the colon"},
                         Bad{"synthetic:   ", "needs a description after the colon"},
                         Bad{"synthetic:pack:2 bogus:3 pu:2", "rejects the synthetic description 'pack:2 bogus:3 pu:2'"},
                         Bad{"synthetic:pack:2 core:2", "rejects the synthetic description"}}) {
        const Topology t = Topology::load(TopologySource::from_option(b.option));
        INFO(b.option << ": " << t.error());
        CHECK_FALSE(t.loaded());
        CHECK(t.error().find(b.says) != std::string::npos);
        CHECK(t.error().find('\n') == std::string::npos);  // one line
        CHECK(pin_order(t, PinOrder::compact).empty());
        const PlacementReport r = classify_placements(t);
        CHECK_FALSE(r.topology_available);
        CHECK(r.classes.front().cls == PlacementClass::unknown);
    }
}
