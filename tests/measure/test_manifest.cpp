// Specification of the machine manifest: every key always present, with a
// value or the reason it could not be read.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "manifest.hpp"

using namespace spill::measure;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("spill-manifest-" + std::to_string(getpid()) + "-" +
                                            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

/// Every documented key is there, as {"value"} or {"unavailable": reason}.
void check_complete(const nlohmann::json& j) {
    for (const auto& k : manifest_keys()) {
        INFO("key " << k);
        REQUIRE(j.contains(k));
        const auto& f = j.at(k);
        REQUIRE(f.is_object());
        CHECK(f.size() == 1);
        if (f.contains("unavailable")) {
            CHECK_FALSE(f.at("unavailable").get<std::string>().empty());
        } else {
            CHECK(f.contains("value"));
        }
    }
    CHECK(j.contains("cpufreq_governor_per_cpu"));
}

}  // namespace

TEST_CASE("manifest: the documented keys are the issue's list", "[manifest]") {
    const auto& keys = manifest_keys();
    for (const char* k : {"hwloc_topology_xml", "kernel_cmdline", "cpufreq_governor", "smt_control",
                          "transparent_hugepage", "sched_policy", "cgroup", "cpuset_effective",
                          "perf_event_paranoid", "virtual_machine", "git_commit", "git_dirty"}) {
        CHECK(std::find(keys.begin(), keys.end(), k) != keys.end());
    }
}

TEST_CASE("manifest: on this machine every key has a value or a reason", "[manifest]") {
    TempDir dir;
    ManifestOptions opt;
    opt.topology_xml_path = (dir.path / "topology.xml").string();
    opt.git_commit = "abc1234";
    opt.git_dirty = true;
    const Manifest m = collect_manifest(opt);
    const nlohmann::json j = m;
    INFO(j.dump(2));
    check_complete(j);
    CHECK(j.at("git_commit").at("value") == "abc1234");
    CHECK(j.at("git_dirty").at("value") == "true");
    CHECK(j.at("sched_policy").contains("value"));  // sched_getscheduler always works on Linux
    CHECK(j.at("affinity").contains("value"));
    CHECK(j.at("kernel_cmdline").contains("value"));  // /proc/cmdline is world-readable
    if (j.at("hwloc_topology_xml").contains("value")) {
        const ManifestField xml = read_text_file(opt.topology_xml_path);
        REQUIRE(xml.available);
        CHECK(xml.value.find("<topology") != std::string::npos);
    }
    // A VM must be detected as one when the CPU says it runs under a hypervisor.
    if (j.at("cpuid_hypervisor").value("value", "") == "true") {
        CHECK(j.at("virtual_machine").at("value").get<std::string>().rfind("true", 0) == 0);
    }
}

TEST_CASE("manifest: unreadable sources become reasons naming the file, never silent gaps", "[manifest]") {
    TempDir empty;
    ManifestOptions opt;
    opt.proc_root = (empty.path / "proc").string();
    opt.sys_root = (empty.path / "sys").string();
    opt.run_systemd_detect_virt = false;
    const Manifest m = collect_manifest(opt);
    const nlohmann::json j = m;
    check_complete(j);
    for (const char* k : {"kernel_cmdline", "smt_control", "transparent_hugepage", "cgroup", "cpuset_effective",
                          "perf_event_paranoid", "cpufreq_governor", "dmi_sys_vendor", "systemd_detect_virt",
                          "hwloc_topology_xml", "git_commit", "git_dirty"}) {
        INFO("key " << k);
        CHECK(j.at(k).contains("unavailable"));
    }
    CHECK(j.at("kernel_cmdline").at("unavailable").get<std::string>().find("/proc/cmdline") != std::string::npos);
    CHECK(j.at("smt_control").at("unavailable").get<std::string>().find("does not exist") != std::string::npos);
}

TEST_CASE("manifest: governors per CPU, THP choice and cpuset are read from the tree", "[manifest]") {
    TempDir root;
    const fs::path sys = root.path / "sys";
    const fs::path proc = root.path / "proc";
    write(sys / "devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
    write(sys / "devices/system/cpu/cpu1/topology/core_id", "1\n");  // no cpufreq for cpu1
    write(sys / "devices/system/cpu/smt/control", "off\n");
    write(sys / "kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
    write(sys / "fs/cgroup/bench/cpuset.cpus.effective", "2-3\n");
    write(proc / "cmdline", "quiet isolcpus=2,3\n");
    write(proc / "self/cgroup", "0::/bench/job\n");
    write(proc / "sys/kernel/perf_event_paranoid", "-1\n");
    ManifestOptions opt;
    opt.proc_root = proc.string();
    opt.sys_root = sys.string();
    opt.run_systemd_detect_virt = false;
    const Manifest m = collect_manifest(opt);
    const nlohmann::json j = m;
    check_complete(j);
    CHECK(j.at("kernel_cmdline").at("value") == "quiet isolcpus=2,3");
    CHECK(j.at("smt_control").at("value") == "off");
    CHECK(j.at("transparent_hugepage").at("value") == "never");
    CHECK(j.at("perf_event_paranoid").at("value") == "-1");
    // /bench/job has no cpuset file: the parent's is used, and named.
    CHECK(j.at("cpuset_effective").at("value") == "2-3");
    CHECK(j.at("cpuset_effective_file").at("value").get<std::string>().find("bench/cpuset.cpus.effective") !=
          std::string::npos);
    const auto& per = j.at("cpufreq_governor_per_cpu");
    CHECK(per.at("cpu0").at("value") == "performance");
    CHECK(per.at("cpu1").at("unavailable").get<std::string>().find("cpufreq") != std::string::npos);
    CHECK(j.at("cpufreq_governor").at("value").get<std::string>().rfind("mixed", 0) == 0);
}

TEST_CASE("manifest: bracketed choice picks the active option of a sysfs file", "[manifest]") {
    CHECK(bracketed_choice("always [madvise] never") == "madvise");
    CHECK(bracketed_choice("[always] never") == "always");
    CHECK(bracketed_choice("plain") == "plain");
}
