// A machine topology as hwloc describes it: this machine's (hwloc discovers
// it), or another machine's, loaded from an XML file (`lstopo target.xml`
// exports one) or built from a synthetic description
// (`pack:2 numa:2 l3:2 core:8 pu:2`), so that pinning plans and placement
// classes can be worked out for hardware that is not here.
//
// Callers never see whether hwloc was available at build time: without it a
// Topology is empty and says why. Cold path throughout.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct hwloc_topology;  // hwloc's topology (hwloc.h); opaque here

namespace spill::measure {

/// Where a topology comes from.
struct TopologySource {
    enum class Kind { machine, xml, synthetic };
    Kind kind = Kind::machine;
    std::string text;  ///< xml: the file name; synthetic: the description (may be empty: a load error)

    /// The value of a `--topology` option: "synthetic:DESC" is a synthetic
    /// description, anything else an XML file name.
    [[nodiscard]] static TopologySource from_option(std::string_view value);
    /// The option value back: "synthetic:DESC", the file name, or "" for this machine.
    [[nodiscard]] std::string option() const;
    /// "this machine", "XML file 'a.xml'", "synthetic topology 'pack:2 core:2 pu:2'".
    [[nodiscard]] std::string describe() const;
};

/// A loaded topology (or an empty one that says why not). Move-only.
class Topology {
public:
    /// This machine's topology.
    [[nodiscard]] static Topology machine() { return load(TopologySource{}); }
    /// Loads `src`; never throws for bad input: an empty topology whose
    /// error() names the source and what is wrong with it.
    [[nodiscard]] static Topology load(const TopologySource& src);

    Topology(Topology&&) noexcept;
    Topology& operator=(Topology&&) noexcept;
    ~Topology();

    [[nodiscard]] bool loaded() const noexcept { return topo_ != nullptr; }
    /// Why the topology is not loaded; empty when it is.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] const TopologySource& source() const noexcept { return source_; }
    /// hwloc discovered it on the machine this process runs on: binding
    /// threads to its PUs means something (for a loaded file or a synthetic
    /// description hwloc's binding calls do nothing).
    [[nodiscard]] bool is_this_machine() const noexcept { return this_machine_; }

    struct Counts {
        int packages = 0, numa_nodes = 0, l3 = 0, l2 = 0, cores = 0, pus = 0;
    };
    [[nodiscard]] Counts counts() const;
    /// "2 packages, 4 NUMA nodes, 32 cores, 64 PUs, L3 16 MiB" (or why unknown).
    [[nodiscard]] std::string summary() const;
    /// One line per package, NUMA node, cache, core and PU, indented by depth.
    [[nodiscard]] std::string tree() const;
    /// OS indices of every PU, in logical (tree) order.
    [[nodiscard]] std::vector<int> pus() const;
    /// What makes `other` a different machine from this one, for pinning:
    /// its PUs (OS indices) or how they are grouped into cores, L2 and L3
    /// caches, NUMA nodes and packages. Empty when they are the same.
    [[nodiscard]] std::string difference(const Topology& other) const;

    /// The hwloc topology, nullptr when not loaded (for the binding calls).
    [[nodiscard]] hwloc_topology* native() const noexcept { return topo_; }

private:
    Topology() = default;
    hwloc_topology* topo_ = nullptr;
    TopologySource source_;
    std::string error_;
    bool this_machine_ = false;
};

/// The order in which thread slots take a topology's PUs.
enum class PinOrder {
    compact,  ///< tree order: every PU of core 0, then of core 1, ... (SMT siblings side by side)
    scatter,  ///< as far apart as the tree allows: cores round-robin over packages, then over the
              ///< NUMA nodes, L3s and L2s inside them; the first PU of every core before any second one
};

/// OS indices of the PUs of `t` in `order` (empty when `t` is not loaded).
[[nodiscard]] std::vector<int> pin_order(const Topology& t, PinOrder order);

}  // namespace spill::measure
