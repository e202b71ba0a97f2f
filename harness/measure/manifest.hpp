// The machine manifest recorded beside every result: everything about the
// machine and the process that can change a figure.  Every field is always
// present; a field that cannot be read carries the reason instead of a value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spill::measure {

/// One manifest entry: a value, or the reason it is unavailable.
struct ManifestField {
    bool available = false;
    std::string value;   ///< when available (text as read, trimmed)
    std::string reason;  ///< when not available; never empty then

    [[nodiscard]] static ManifestField of(std::string v) { return {true, std::move(v), {}}; }
    [[nodiscard]] static ManifestField missing(std::string why) {
        return {false, {}, why.empty() ? std::string("unknown reason") : std::move(why)};
    }
};

struct ManifestOptions {
    /// Where to write the hwloc topology XML; empty = do not write (the
    /// field then says so).
    std::string topology_xml_path;
    std::string git_commit;              ///< empty = unavailable
    std::optional<bool> git_dirty;       ///< nullopt = unavailable
    /// Roots of the pseudo file systems (tests point them at fake trees).
    std::string proc_root = "/proc";
    std::string sys_root = "/sys";
    /// Run systemd-detect-virt if it exists (it is a child process).
    bool run_systemd_detect_virt = true;
};

struct Manifest {
    /// Keyed by the names in manifest_keys(); always every key.
    std::map<std::string, ManifestField> fields;
    /// scaling_governor of each CPU directory found (cpuN -> field).
    std::map<int, ManifestField> governors;
};

/// The keys every manifest has, in documentation order:
///   hwloc_topology_xml, kernel_cmdline, cpufreq_governor, smt_control,
///   smt_active, transparent_hugepage, transparent_hugepage_defrag,
///   sched_policy, cgroup, cpuset_effective, affinity, perf_event_paranoid,
///   cpuid_hypervisor, hypervisor_vendor, dmi_sys_vendor,
///   systemd_detect_virt, virtual_machine, git_commit, git_dirty.
[[nodiscard]] const std::vector<std::string>& manifest_keys();

[[nodiscard]] Manifest collect_manifest(const ManifestOptions& opt);

/// Helpers, exposed for tests: first line / whole file trimmed, or why not.
[[nodiscard]] ManifestField read_text_file(const std::string& path);
/// The bracketed choice of a sysfs multiple-choice file:
/// "always [madvise] never" -> "madvise" (the text itself if no brackets).
[[nodiscard]] std::string bracketed_choice(const std::string& text);

/// {"value": ...} or {"unavailable": reason}.
void to_json(nlohmann::json& j, const ManifestField& f);
/// Every key of manifest_keys() (a key missing from `fields` is written as
/// unavailable "not collected"), plus "cpufreq_governor_per_cpu".
void to_json(nlohmann::json& j, const Manifest& m);

}  // namespace spill::measure
