// Placement classes of core pairs, from the hwloc topology: this machine's,
// or another machine's (topology.hpp: an XML file or a synthetic
// description) to plan a sweep for hardware that is not here. Callers never
// see whether hwloc was available at build time: without it (or when the
// topology cannot be loaded) the report has one class, `unknown`, and a reason.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "topology.hpp"

namespace spill::measure {

/// From closest to farthest.
enum class PlacementClass {
    same_core,      ///< SMT siblings of one core
    same_l2,        ///< different cores sharing an L2
    same_l3,        ///< different L2, shared L3
    other_l3,       ///< different L3, same NUMA node
    other_numa,     ///< different NUMA node, same package
    other_package,  ///< different package (socket)
    unknown,        ///< topology not available
};

[[nodiscard]] std::string_view to_string(PlacementClass c) noexcept;
/// Inverse of to_string (for `--placement same_l3`); nullopt if unknown text.
[[nodiscard]] std::optional<PlacementClass> placement_from_string(std::string_view s) noexcept;

struct PlacementExample {
    PlacementClass cls = PlacementClass::unknown;
    int cpu_a = -1;           ///< representative pair (OS CPU ids), a < b
    int cpu_b = -1;
    std::size_t pairs = 0;    ///< how many usable CPU pairs fall in this class
};

struct PlacementReport {
    bool topology_available = false;
    std::string reason;                 ///< why the topology is unavailable / classes unknown
    std::string where = "this machine"; ///< whose topology: TopologySource::describe()
    /// usable CPUs, ascending: on this machine the process's affinity, on
    /// another topology every PU it has
    std::vector<int> cpus;
    std::vector<PlacementExample> classes;  ///< present classes, closest first; never empty
    /// e.g. "one placement class on this machine: same_l3 (cpus 0,1)" (`where` names the topology).
    [[nodiscard]] std::string summary() const;
    [[nodiscard]] bool single_class() const noexcept { return classes.size() == 1; }
    [[nodiscard]] const PlacementExample* find(PlacementClass c) const noexcept;
};

/// Classifies every pair of CPUs the process may run on.
[[nodiscard]] PlacementReport classify_placements();
/// Classifies every pair of CPUs of `topology` (of this machine: those the
/// process may run on; of another one: all of its PUs).
[[nodiscard]] PlacementReport classify_placements(const Topology& topology);

/// Class of one pair; `unknown` with `reason` set when it cannot be told.
[[nodiscard]] PlacementClass classify_pair(int cpu_a, int cpu_b, std::string* reason = nullptr);
/// The same on `topology` (OS indices of its PUs).
[[nodiscard]] PlacementClass classify_pair(const Topology& topology, int cpu_a, int cpu_b, std::string* reason = nullptr);

void to_json(nlohmann::json& j, const PlacementExample& e);
void to_json(nlohmann::json& j, const PlacementReport& r);

}  // namespace spill::measure
