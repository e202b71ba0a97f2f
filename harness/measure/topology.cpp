// Topologies from hwloc; with placement.cpp and manifest.cpp the only place
// of harness/measure that knows whether hwloc was found at build time.
#include "topology.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <utility>

#if SPILL_MEASURE_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace spill::measure {

namespace {
constexpr std::string_view synthetic_prefix = "synthetic:";
}  // namespace

TopologySource TopologySource::from_option(std::string_view value) {
    TopologySource s;
    if (value.substr(0, synthetic_prefix.size()) == synthetic_prefix) {
        s.kind = Kind::synthetic;
        s.text = std::string(value.substr(synthetic_prefix.size()));
    } else {
        s.kind = Kind::xml;
        s.text = std::string(value);
    }
    return s;
}

std::string TopologySource::option() const {
    switch (kind) {
        case Kind::machine: return {};
        case Kind::xml: return text;
        case Kind::synthetic: return std::string(synthetic_prefix) + text;
    }
    return {};
}

std::string TopologySource::describe() const {
    switch (kind) {
        case Kind::machine: return "this machine";
        case Kind::xml: return "XML file '" + text + "'";
        case Kind::synthetic: return "synthetic topology '" + text + "'";
    }
    return "?";
}

Topology::Topology(Topology&& o) noexcept
    : topo_(std::exchange(o.topo_, nullptr)),
      source_(std::move(o.source_)),
      error_(std::move(o.error_)),
      this_machine_(std::exchange(o.this_machine_, false)) {}

Topology& Topology::operator=(Topology&& o) noexcept {
    if (this != &o) {
        Topology gone(std::move(*this));
        topo_ = std::exchange(o.topo_, nullptr);
        source_ = std::move(o.source_);
        error_ = std::move(o.error_);
        this_machine_ = std::exchange(o.this_machine_, false);
    }
    return *this;
}

Topology::~Topology() {
#if SPILL_MEASURE_HAVE_HWLOC
    if (topo_) hwloc_topology_destroy(topo_);
#endif
}

#if SPILL_MEASURE_HAVE_HWLOC

namespace {

std::string size_text(unsigned long long bytes) {
    std::ostringstream o;
    if (bytes >= (1ull << 20)) o << (bytes >> 20) << " MiB";
    else o << (bytes >> 10) << " KiB";
    return o.str();
}

/// "0-3,8": a cpuset as hwloc writes lists.
std::string cpu_list(hwloc_const_bitmap_t set) {
    char* s = nullptr;
    if (hwloc_bitmap_list_asprintf(&s, set) < 0 || s == nullptr) return "?";
    std::string out(s);
    std::free(s);
    return out;
}

/// The objects of `type`, each as the list of its PUs, sorted.
std::vector<std::string> groupings(hwloc_topology_t t, hwloc_obj_type_t type) {
    std::vector<std::string> out;
    const int n = hwloc_get_nbobjs_by_type(t, type);
    for (int i = 0; i < n; ++i)
        if (hwloc_obj_t o = hwloc_get_obj_by_type(t, type, static_cast<unsigned>(i)); o && o->cpuset) out.push_back(cpu_list(o->cpuset));
    std::sort(out.begin(), out.end());
    return out;
}

/// Cores (or PUs without a core above them) under `obj`, spread: the
/// children's lists taken round-robin, so consecutive cores sit under
/// different children wherever the tree branches.
void scattered_cores(hwloc_obj_t obj, std::vector<hwloc_obj_t>& out) {
    if (obj->type == HWLOC_OBJ_CORE || obj->type == HWLOC_OBJ_PU) {
        out.push_back(obj);
        return;
    }
    std::vector<std::vector<hwloc_obj_t>> lists;
    for (hwloc_obj_t c = obj->first_child; c; c = c->next_sibling) {
        lists.emplace_back();
        scattered_cores(c, lists.back());
    }
    std::size_t longest = 0;
    for (const auto& l : lists) longest = std::max(longest, l.size());
    for (std::size_t k = 0; k < longest; ++k)
        for (const auto& l : lists)
            if (k < l.size()) out.push_back(l[k]);
}

/// OS indices of the PUs inside `obj` (itself if it is one), in logical order.
std::vector<int> pus_in(hwloc_topology_t t, hwloc_obj_t obj) {
    std::vector<int> v;
    const int n = hwloc_get_nbobjs_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_PU);
    for (int i = 0; i < n; ++i)
        if (hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(t, obj->cpuset, HWLOC_OBJ_PU, static_cast<unsigned>(i)); pu)
            v.push_back(static_cast<int>(pu->os_index));
    return v;
}

}  // namespace

Topology Topology::load(const TopologySource& src) {
    Topology t;
    t.source_ = src;
    const std::string what = src.describe();
    if (src.kind == TopologySource::Kind::synthetic && src.text.find_first_not_of(" \t") == std::string::npos) {
        t.error_ = "'synthetic:' needs a description after the colon, e.g. synthetic:'pack:2 numa:2 l3:2 core:8 pu:2'";
        return t;
    }
    if (src.kind == TopologySource::Kind::xml) {
        struct stat st {};
        if (src.text.empty()) {
            t.error_ = "empty file name (expected FILE.xml or synthetic:DESCRIPTION)";
            return t;
        }
        if (::stat(src.text.c_str(), &st) != 0) {
            t.error_ = "cannot read XML file '" + src.text + "': " + std::strerror(errno);
            return t;
        }
        if (!S_ISREG(st.st_mode) || ::access(src.text.c_str(), R_OK) != 0) {
            t.error_ = "cannot read XML file '" + src.text + "'" + (S_ISDIR(st.st_mode) ? ": it is a directory" : "");
            return t;
        }
    }
    hwloc_topology_t h = nullptr;
    if (hwloc_topology_init(&h) != 0) {
        t.error_ = "hwloc_topology_init failed";
        return t;
    }
    bool ok = true;
    if (src.kind == TopologySource::Kind::xml) {
        ok = hwloc_topology_set_xml(h, src.text.c_str()) == 0;
        if (!ok) t.error_ = "hwloc cannot read XML file '" + src.text + "'";
    } else if (src.kind == TopologySource::Kind::synthetic) {
        ok = hwloc_topology_set_synthetic(h, src.text.c_str()) == 0;
        if (!ok)
            t.error_ = "hwloc rejects the synthetic description '" + src.text +
                       "' (expected levels TYPE:COUNT from the top down to pu, e.g. 'pack:2 numa:2 l3:2 core:8 pu:2')";
    }
    if (ok && hwloc_topology_load(h) != 0) {
        ok = false;
        t.error_ = src.kind == TopologySource::Kind::xml ? "'" + src.text + "' is not a valid hwloc XML topology (as `lstopo FILE.xml` writes)"
                                                         : "hwloc could not load " + what;
    }
    if (ok && hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PU) <= 0) {
        ok = false;
        t.error_ = what + " has no PU";
    }
    if (!ok) {
        hwloc_topology_destroy(h);
        return t;
    }
    t.topo_ = h;
    // hwloc's own verdict too: HWLOC_XMLFILE or HWLOC_SYNTHETIC in the
    // environment replace this machine's discovery.
    t.this_machine_ = src.kind == TopologySource::Kind::machine && hwloc_topology_is_thissystem(h) != 0;
    return t;
}

Topology::Counts Topology::counts() const {
    Counts c;
    if (!topo_) return c;
    c.packages = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PACKAGE);
    c.numa_nodes = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_NUMANODE);
    c.l3 = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_L3CACHE);
    c.l2 = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_L2CACHE);
    c.cores = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_CORE);
    c.pus = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PU);
    return c;
}

std::string Topology::summary() const {
    if (!topo_) return "unknown (" + error_ + ")";
    const Counts c = counts();
    auto n = [](int k, const char* one, const char* many) { return std::to_string(k) + " " + (k == 1 ? one : many); };
    std::string s = n(c.packages, "package", "packages") + ", " + n(c.numa_nodes, "NUMA node", "NUMA nodes") + ", " + n(c.cores, "core", "cores") +
                    ", " + n(c.pus, "PU", "PUs");
    if (c.l3 > 1) s += ", " + n(c.l3, "L3", "L3s");
    if (hwloc_obj_t l3 = hwloc_get_obj_by_type(topo_, HWLOC_OBJ_L3CACHE, 0); l3 && l3->attr)
        s += std::string(c.l3 > 1 ? " of " : ", L3 ") + size_text(static_cast<unsigned long long>(l3->attr->cache.size));
    return s;
}

std::string Topology::tree() const {
    if (!topo_) return "(no topology: " + error_ + ")\n";
    std::ostringstream o;
    auto walk = [&](auto&& self, hwloc_obj_t obj, int depth) -> void {
        if (obj->type == HWLOC_OBJ_MACHINE || obj->type == HWLOC_OBJ_PACKAGE || obj->type == HWLOC_OBJ_NUMANODE || obj->type == HWLOC_OBJ_CORE ||
            obj->type == HWLOC_OBJ_PU || hwloc_obj_type_is_cache(obj->type)) {
            char type[64];
            hwloc_obj_type_snprintf(type, sizeof type, obj, 0);
            o << std::string(static_cast<std::size_t>(depth) * 2, ' ') << type << " L#" << obj->logical_index;
            if (obj->type == HWLOC_OBJ_PU) o << " (OS cpu " << obj->os_index << ")";
            if (obj->type == HWLOC_OBJ_NUMANODE) o << " (OS node " << obj->os_index << ")";
            if (hwloc_obj_type_is_cache(obj->type) && obj->attr) o << " " << size_text(static_cast<unsigned long long>(obj->attr->cache.size));
            o << "\n";
            ++depth;
        }
        for (hwloc_obj_t c = obj->memory_first_child; c; c = c->next_sibling) self(self, c, depth);
        for (hwloc_obj_t c = obj->first_child; c; c = c->next_sibling) self(self, c, depth);
    };
    walk(walk, hwloc_get_root_obj(topo_), 0);
    return o.str();
}

std::vector<int> Topology::pus() const {
    std::vector<int> v;
    if (!topo_) return v;
    const int n = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PU);
    for (int i = 0; i < n; ++i)
        if (hwloc_obj_t pu = hwloc_get_obj_by_type(topo_, HWLOC_OBJ_PU, static_cast<unsigned>(i)); pu) v.push_back(static_cast<int>(pu->os_index));
    return v;
}

std::string Topology::difference(const Topology& other) const {
    if (!topo_ || !other.topo_) return "a topology is not loaded";
    static constexpr std::array<std::pair<hwloc_obj_type_t, const char*>, 6> levels{{{HWLOC_OBJ_PU, "PUs"},
                                                                                     {HWLOC_OBJ_CORE, "cores"},
                                                                                     {HWLOC_OBJ_L2CACHE, "L2 caches"},
                                                                                     {HWLOC_OBJ_L3CACHE, "L3 caches"},
                                                                                     {HWLOC_OBJ_NUMANODE, "NUMA nodes"},
                                                                                     {HWLOC_OBJ_PACKAGE, "packages"}}};
    for (const auto& [type, name] : levels) {
        const std::vector<std::string> mine = groupings(topo_, type);
        const std::vector<std::string> theirs = groupings(other.topo_, type);
        if (mine == theirs) continue;
        auto show = [](const std::vector<std::string>& g) {
            std::string s = std::to_string(g.size());
            if (g.size() <= 4) {
                s += g.empty() ? "" : " {";
                for (std::size_t i = 0; i < g.size(); ++i) s += (i ? "} {" : "") + g[i];
                s += g.empty() ? "" : "}";
            }
            return s;
        };
        return std::string("the ") + name + " differ: " + show(mine) + " on " + source_.describe() + ", " + show(theirs) + " on " +
               other.source_.describe();
    }
    return {};
}

std::vector<int> pin_order(const Topology& t, PinOrder order) {
    std::vector<int> plan;
    hwloc_topology_t h = t.native();
    if (!h) return plan;
    if (order == PinOrder::compact) return t.pus();
    std::vector<hwloc_obj_t> cores;
    scattered_cores(hwloc_get_root_obj(h), cores);
    std::vector<std::vector<int>> per_core;
    std::size_t widest = 0;
    for (hwloc_obj_t c : cores) {
        per_core.push_back(pus_in(h, c));
        widest = std::max(widest, per_core.back().size());
    }
    for (std::size_t r = 0; r < widest; ++r)
        for (const auto& v : per_core)
            if (r < v.size()) plan.push_back(v[r]);
    return plan;
}

#else  // built without hwloc: every topology is empty and says why

Topology Topology::load(const TopologySource& src) {
    Topology t;
    t.source_ = src;
    t.error_ = "built without hwloc, so " + src.describe() + " cannot be loaded";
    return t;
}

Topology::Counts Topology::counts() const { return {}; }
std::string Topology::summary() const { return "unknown (" + error_ + ")"; }
std::string Topology::tree() const { return "(no topology: " + error_ + ")\n"; }
std::vector<int> Topology::pus() const { return {}; }
std::string Topology::difference(const Topology&) const { return "a topology is not loaded"; }
std::vector<int> pin_order(const Topology&, PinOrder) { return {}; }

#endif

}  // namespace spill::measure
