// Placement classes from hwloc; with topology.cpp and manifest.cpp the only
// place that knows whether hwloc was found at build time.
#include "placement.hpp"

#include <sched.h>

#include <algorithm>
#include <array>

#if SPILL_MEASURE_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace spill::measure {

namespace {

constexpr std::array<PlacementClass, 7> all_classes{
    PlacementClass::same_core, PlacementClass::same_l2,       PlacementClass::same_l3,
    PlacementClass::other_l3,  PlacementClass::other_numa,    PlacementClass::other_package,
    PlacementClass::unknown};

std::vector<int> affinity_cpus() {
    std::vector<int> out;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return out;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(static_cast<std::size_t>(c), &set)) out.push_back(c);
    }
    return out;
}

#if SPILL_MEASURE_HAVE_HWLOC
bool same_ancestor(hwloc_topology_t t, hwloc_obj_t a, hwloc_obj_t b, hwloc_obj_type_t type) {
    hwloc_obj_t x = hwloc_get_ancestor_obj_by_type(t, type, a);
    hwloc_obj_t y = hwloc_get_ancestor_obj_by_type(t, type, b);
    return x != nullptr && x == y;
}

PlacementClass classify_with(hwloc_topology_t t, int cpu_a, int cpu_b, std::string& reason) {
    hwloc_obj_t a = hwloc_get_pu_obj_by_os_index(t, static_cast<unsigned>(cpu_a));
    hwloc_obj_t b = hwloc_get_pu_obj_by_os_index(t, static_cast<unsigned>(cpu_b));
    if (a == nullptr || b == nullptr || cpu_a == cpu_b) {
        reason = cpu_a == cpu_b ? "a pair needs two different CPUs" : "CPU not in the hwloc topology";
        return PlacementClass::unknown;
    }
    if (same_ancestor(t, a, b, HWLOC_OBJ_CORE)) return PlacementClass::same_core;
    if (same_ancestor(t, a, b, HWLOC_OBJ_L2CACHE)) return PlacementClass::same_l2;
    if (same_ancestor(t, a, b, HWLOC_OBJ_L3CACHE)) return PlacementClass::same_l3;
    const bool same_package = same_ancestor(t, a, b, HWLOC_OBJ_PACKAGE) ||
                              hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE) <= 1;
    if (!same_package) return PlacementClass::other_package;
    const bool same_numa = a->nodeset == nullptr || b->nodeset == nullptr ||
                           hwloc_bitmap_isequal(a->nodeset, b->nodeset) != 0;
    if (!same_numa) return PlacementClass::other_numa;
    return PlacementClass::other_l3;
}
#endif

}  // namespace

std::string_view to_string(PlacementClass c) noexcept {
    switch (c) {
        case PlacementClass::same_core: return "same_core";
        case PlacementClass::same_l2: return "same_l2";
        case PlacementClass::same_l3: return "same_l3";
        case PlacementClass::other_l3: return "other_l3";
        case PlacementClass::other_numa: return "other_numa";
        case PlacementClass::other_package: return "other_package";
        case PlacementClass::unknown: return "unknown";
    }
    return "unknown";
}

std::optional<PlacementClass> placement_from_string(std::string_view s) noexcept {
    for (PlacementClass c : all_classes) {
        if (to_string(c) == s) return c;
    }
    return std::nullopt;
}

const PlacementExample* PlacementReport::find(PlacementClass c) const noexcept {
    for (const auto& e : classes) {
        if (e.cls == c) return &e;
    }
    return nullptr;
}

std::string PlacementReport::summary() const {
    std::string s;
    if (classes.size() == 1) {
        s = "one placement class on " + where + ": ";
    } else {
        s = std::to_string(classes.size()) + " placement classes on " + where + ": ";
    }
    for (std::size_t i = 0; i < classes.size(); ++i) {
        const auto& e = classes[i];
        if (i) s += ", ";
        s += to_string(e.cls);
        if (e.cpu_a >= 0) s += " (cpus " + std::to_string(e.cpu_a) + "," + std::to_string(e.cpu_b) + ")";
    }
    if (!reason.empty()) s += " [" + reason + "]";
    return s;
}

PlacementClass classify_pair(int cpu_a, int cpu_b, std::string* reason) { return classify_pair(Topology::machine(), cpu_a, cpu_b, reason); }

PlacementClass classify_pair(const Topology& topology, int cpu_a, int cpu_b, std::string* reason) {
    std::string why = topology.error();
    PlacementClass c = PlacementClass::unknown;
#if SPILL_MEASURE_HAVE_HWLOC
    if (topology.loaded()) c = classify_with(topology.native(), cpu_a, cpu_b, why);
#else
    (void)cpu_a;
    (void)cpu_b;
#endif
    if (reason) *reason = why;
    return c;
}

PlacementReport classify_placements() { return classify_placements(Topology::machine()); }

PlacementReport classify_placements(const Topology& topology) {
    PlacementReport r;
    r.where = topology.source().describe();
    if (topology.source().kind == TopologySource::Kind::machine) {
        r.cpus = affinity_cpus();
    } else {
        r.cpus = topology.pus();
        std::sort(r.cpus.begin(), r.cpus.end());
    }
#if SPILL_MEASURE_HAVE_HWLOC
    if (topology.loaded()) {
        r.topology_available = true;
        std::array<PlacementExample, all_classes.size()> found{};
        for (std::size_t i = 0; i < r.cpus.size(); ++i) {
            for (std::size_t k = i + 1; k < r.cpus.size(); ++k) {
                std::string why;
                const PlacementClass c = classify_with(topology.native(), r.cpus[i], r.cpus[k], why);
                auto& e = found[static_cast<std::size_t>(c)];
                if (e.pairs++ == 0) {
                    e.cls = c;
                    e.cpu_a = r.cpus[i];
                    e.cpu_b = r.cpus[k];
                }
            }
        }
        for (const auto& e : found) {
            if (e.pairs > 0) r.classes.push_back(e);
        }
        if (found[static_cast<std::size_t>(PlacementClass::unknown)].pairs > 0) {
            r.reason = "some CPUs of the affinity mask are missing from the hwloc topology";
        }
        if (r.cpus.size() < 2) r.reason = "fewer than two usable CPUs: no pair to place";
    } else {
        r.reason = topology.error();
    }
#else
    r.reason = "built without hwloc";
#endif
    if (r.classes.empty()) {
        PlacementExample e;
        e.cls = PlacementClass::unknown;
        if (r.cpus.size() >= 2) {
            e.cpu_a = r.cpus[0];
            e.cpu_b = r.cpus[1];
            e.pairs = r.cpus.size() * (r.cpus.size() - 1) / 2;
        }
        r.classes.push_back(e);
    }
    return r;
}

void to_json(nlohmann::json& j, const PlacementExample& e) {
    j = nlohmann::json{{"class", std::string(to_string(e.cls))},
                       {"cpus", {e.cpu_a, e.cpu_b}},
                       {"pairs", e.pairs}};
}

void to_json(nlohmann::json& j, const PlacementReport& r) {
    j = nlohmann::json{{"topology_available", r.topology_available},
                       {"cpus", r.cpus},
                       {"classes", r.classes},
                       {"single_class", r.single_class()},
                       {"summary", r.summary()}};
    if (!r.reason.empty()) j["reason"] = r.reason;
}

}  // namespace spill::measure
