// Machine manifest; see manifest.hpp.  Cold path: allocations, files and a
// child process are fine here.
#include "manifest.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#if SPILL_MEASURE_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace spill::measure {

namespace {

namespace fs = std::filesystem;

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string cpu_list(const cpu_set_t& set) {
    std::string out;
    int run_start = -1;
    for (int c = 0; c <= CPU_SETSIZE; ++c) {
        const bool in = c < CPU_SETSIZE && CPU_ISSET(static_cast<std::size_t>(c), &set);
        if (in && run_start < 0) run_start = c;
        if (!in && run_start >= 0) {
            if (!out.empty()) out += ",";
            out += std::to_string(run_start);
            if (c - 1 > run_start) {
                out += '-';
                out += std::to_string(c - 1);
            }
            run_start = -1;
        }
    }
    return out;
}

ManifestField topology_xml(const std::string& path) {
    if (path.empty()) return ManifestField::missing("no output path given");
#if SPILL_MEASURE_HAVE_HWLOC
    hwloc_topology_t t = nullptr;
    if (hwloc_topology_init(&t) != 0) return ManifestField::missing("hwloc_topology_init failed");
    ManifestField f;
    if (hwloc_topology_load(t) != 0) {
        f = ManifestField::missing("hwloc_topology_load failed");
    } else if (hwloc_topology_export_xml(t, path.c_str(), 0) != 0) {
        f = ManifestField::missing("hwloc_topology_export_xml(" + path + "): " + std::strerror(errno));
    } else {
        f = ManifestField::of(path);
    }
    hwloc_topology_destroy(t);
    return f;
#else
    return ManifestField::missing("built without hwloc");
#endif
}

ManifestField sched_policy() {
    const int p = sched_getscheduler(0);
    if (p < 0) return ManifestField::missing(std::string("sched_getscheduler: ") + std::strerror(errno));
    std::string name;
    switch (p & ~SCHED_RESET_ON_FORK) {
        case SCHED_OTHER: name = "SCHED_OTHER"; break;
        case SCHED_FIFO: name = "SCHED_FIFO"; break;
        case SCHED_RR: name = "SCHED_RR"; break;
        case SCHED_BATCH: name = "SCHED_BATCH"; break;
        case SCHED_IDLE: name = "SCHED_IDLE"; break;
        default: name = "policy " + std::to_string(p); break;
    }
    sched_param sp{};
    if (sched_getparam(0, &sp) == 0) name += " priority " + std::to_string(sp.sched_priority);
    errno = 0;
    const int nice_value = getpriority(PRIO_PROCESS, 0);
    if (errno == 0) name += " nice " + std::to_string(nice_value);
    return ManifestField::of(name);
}

ManifestField affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return ManifestField::missing(std::string("sched_getaffinity: ") + std::strerror(errno));
    }
    return ManifestField::of(cpu_list(set));
}

/// The effective cpuset of this process's cgroup (v2 unified, or the v1
/// cpuset controller), walking up to the root when a level has no file.
void cpuset(const ManifestOptions& opt, const ManifestField& cgroup, Manifest& m) {
    if (!cgroup.available) {
        m.fields["cpuset_effective"] = ManifestField::missing("cgroup unknown: " + cgroup.reason);
        m.fields["cpuset_effective_file"] = ManifestField::missing("cgroup unknown: " + cgroup.reason);
        return;
    }
    std::vector<fs::path> candidates;  // in order of preference
    std::istringstream lines(cgroup.value);
    std::string line;
    const fs::path root = fs::path(opt.sys_root) / "fs" / "cgroup";
    auto add_walk = [&](const fs::path& base, const std::string& rel, const char* file) {
        fs::path p = fs::path(rel).relative_path();
        for (;;) {
            candidates.push_back(base / p / file);
            if (p.empty()) break;
            p = p.parent_path();
        }
    };
    while (std::getline(lines, line)) {
        const auto c1 = line.find(':');
        const auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        const std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
        const std::string path = line.substr(c2 + 1);
        if (line.compare(0, c1, "0") == 0 && controllers.empty()) {
            add_walk(root, path, "cpuset.cpus.effective");
            add_walk(root / "unified", path, "cpuset.cpus.effective");
        } else if (("," + controllers + ",").find(",cpuset,") != std::string::npos) {
            add_walk(root / "cpuset", path, "cpuset.effective_cpus");
            add_walk(root / "cpuset", path, "cpuset.cpus");
        }
    }
    std::string tried;
    for (const auto& c : candidates) {
        ManifestField f = read_text_file(c.string());
        if (f.available) {
            m.fields["cpuset_effective"] = f;
            m.fields["cpuset_effective_file"] = ManifestField::of(c.string());
            return;
        }
    }
    const std::string why = candidates.empty()
                                ? "no cpuset controller in " + opt.proc_root + "/self/cgroup"
                                : "none of the cpuset files is readable (first tried: " + candidates.front().string() + ")";
    m.fields["cpuset_effective"] = ManifestField::missing(why);
    m.fields["cpuset_effective_file"] = ManifestField::missing(why);
}

void governors(const ManifestOptions& opt, Manifest& m) {
    const fs::path dir = fs::path(opt.sys_root) / "devices" / "system" / "cpu";
    std::error_code ec;
    std::map<std::string, int> distinct;  // available governors -> CPUs
    std::size_t unavailable = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() < 4 || name.compare(0, 3, "cpu") != 0 ||
            name.find_first_not_of("0123456789", 3) != std::string::npos) {
            continue;
        }
        const int cpu = std::stoi(name.substr(3));
        const fs::path gov = it->path() / "cpufreq" / "scaling_governor";
        ManifestField f = read_text_file(gov.string());
        if (!f.available && !fs::exists(it->path() / "cpufreq")) {
            f = ManifestField::missing("no cpufreq directory (" + (it->path() / "cpufreq").string() +
                                       "): frequency scaling not exposed, e.g. in a VM");
        }
        if (f.available) {
            distinct[f.value]++;
        } else {
            ++unavailable;
        }
        m.governors[cpu] = f;
    }
    if (ec) {
        m.fields["cpufreq_governor"] = ManifestField::missing("cannot list " + dir.string() + ": " + ec.message());
    } else if (m.governors.empty()) {
        m.fields["cpufreq_governor"] = ManifestField::missing("no cpuN directory under " + dir.string());
    } else if (distinct.empty()) {
        m.fields["cpufreq_governor"] = ManifestField::missing(
            "no CPU exposes a governor (cpu" + std::to_string(m.governors.begin()->first) + ": " +
            m.governors.begin()->second.reason + ")");
    } else if (distinct.size() == 1 && unavailable == 0) {
        m.fields["cpufreq_governor"] = ManifestField::of(distinct.begin()->first);
    } else {
        // Per-CPU detail is in cpufreq_governor_per_cpu.
        std::string mixed = "mixed:";
        for (const auto& [g, n] : distinct) mixed += " " + g + " on " + std::to_string(n) + " CPUs;";
        if (unavailable) mixed += " unavailable on " + std::to_string(unavailable) + " CPUs";
        m.fields["cpufreq_governor"] = ManifestField::of(mixed);
    }
}

void virtualization(const ManifestOptions& opt, Manifest& m) {
    bool hv_bit = false;
    bool hv_known = false;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        hv_known = true;
        hv_bit = (c >> 31) & 1U;
        m.fields["cpuid_hypervisor"] = ManifestField::of(hv_bit ? "true" : "false");
    } else {
        m.fields["cpuid_hypervisor"] = ManifestField::missing("cpuid leaf 1 not supported");
    }
    if (hv_bit) {
        unsigned regs[4] = {0, 0, 0, 0};
        __cpuid(0x40000000U, regs[0], regs[1], regs[2], regs[3]);
        char vendor[13] = {};
        std::memcpy(vendor, &regs[1], 4);
        std::memcpy(vendor + 4, &regs[2], 4);
        std::memcpy(vendor + 8, &regs[3], 4);
        const std::string v = trim(std::string(vendor, strnlen(vendor, 12)));
        m.fields["hypervisor_vendor"] =
            v.empty() ? ManifestField::missing("cpuid leaf 0x40000000 gives no vendor") : ManifestField::of(v);
    } else {
        m.fields["hypervisor_vendor"] =
            ManifestField::missing(hv_known ? "cpuid hypervisor bit clear" : "cpuid unavailable");
    }
#else
    m.fields["cpuid_hypervisor"] = ManifestField::missing("cpuid is x86-only");
    m.fields["hypervisor_vendor"] = ManifestField::missing("cpuid is x86-only");
#endif
    m.fields["dmi_sys_vendor"] = read_text_file(opt.sys_root + "/class/dmi/id/sys_vendor");

    ManifestField sdv = ManifestField::missing("disabled by options");
    if (opt.run_systemd_detect_virt) {
        const char* exe = nullptr;
        for (const char* p : {"/usr/bin/systemd-detect-virt", "/bin/systemd-detect-virt"}) {
            if (access(p, X_OK) == 0) {
                exe = p;
                break;
            }
        }
        if (exe == nullptr) {
            sdv = ManifestField::missing("systemd-detect-virt not installed");
        } else if (FILE* pipe = popen((std::string(exe) + " 2>/dev/null").c_str(), "r")) {
            std::string out;
            char buf[256];
            while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
            const int rc = pclose(pipe);
            out = trim(out);
            // Exit status 1 with "none" means "no virtualisation": still a value.
            if (!out.empty()) {
                sdv = ManifestField::of(out);
            } else {
                sdv = ManifestField::missing("systemd-detect-virt printed nothing (status " + std::to_string(rc) + ")");
            }
        } else {
            sdv = ManifestField::missing(std::string("popen: ") + std::strerror(errno));
        }
    }
    m.fields["systemd_detect_virt"] = sdv;

    // Verdict: any positive evidence says VM; "no" needs some evidence too.
    std::string evidence;
    bool vm = false;
    bool any = false;
    if (m.fields["cpuid_hypervisor"].available) {
        any = true;
        if (hv_bit) {
            vm = true;
            evidence += "cpuid hypervisor bit";
        }
    }
    if (sdv.available) {
        any = true;
        if (sdv.value != "none") {
            vm = true;
            evidence += (evidence.empty() ? "" : ", ") + std::string("systemd-detect-virt=") + sdv.value;
        }
    }
    const ManifestField& dmi = m.fields["dmi_sys_vendor"];
    if (dmi.available) {
        any = true;
        for (const char* k : {"QEMU", "KVM", "VMware", "Xen", "Microsoft Corporation", "innotek", "Amazon EC2", "Google"}) {
            if (dmi.value.find(k) != std::string::npos) {
                vm = true;
                evidence += (evidence.empty() ? "" : ", ") + std::string("DMI vendor ") + dmi.value;
                break;
            }
        }
    }
    if (!any) {
        m.fields["virtual_machine"] = ManifestField::missing("no source (cpuid, DMI, systemd-detect-virt) readable");
    } else {
        m.fields["virtual_machine"] = ManifestField::of(vm ? "true (" + evidence + ")" : "false");
    }
}

}  // namespace

const std::vector<std::string>& manifest_keys() {
    static const std::vector<std::string> keys{
        "hwloc_topology_xml", "kernel_cmdline",      "cpufreq_governor",   "smt_control",
        "smt_active",         "transparent_hugepage", "transparent_hugepage_defrag",
        "sched_policy",       "cgroup",              "cpuset_effective",   "cpuset_effective_file",
        "affinity",           "perf_event_paranoid", "cpuid_hypervisor",   "hypervisor_vendor",
        "dmi_sys_vendor",     "systemd_detect_virt", "virtual_machine",    "git_commit",
        "git_dirty"};
    return keys;
}

ManifestField read_text_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        std::error_code ec;
        const bool exists = fs::exists(path, ec);
        return ManifestField::missing(path + ": " + (exists ? "not readable" : "does not exist"));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return ManifestField::missing(path + ": read error");
    return ManifestField::of(trim(ss.str()));
}

std::string bracketed_choice(const std::string& text) {
    const auto b = text.find('[');
    const auto e = b == std::string::npos ? b : text.find(']', b);
    if (e == std::string::npos) return text;
    return text.substr(b + 1, e - b - 1);
}

Manifest collect_manifest(const ManifestOptions& opt) {
    Manifest m;
    m.fields["hwloc_topology_xml"] = topology_xml(opt.topology_xml_path);
    m.fields["kernel_cmdline"] = read_text_file(opt.proc_root + "/cmdline");
    governors(opt, m);
    m.fields["smt_control"] = read_text_file(opt.sys_root + "/devices/system/cpu/smt/control");
    m.fields["smt_active"] = read_text_file(opt.sys_root + "/devices/system/cpu/smt/active");
    for (auto [key, file] : {std::pair{"transparent_hugepage", "enabled"}, std::pair{"transparent_hugepage_defrag", "defrag"}}) {
        ManifestField f = read_text_file(opt.sys_root + "/kernel/mm/transparent_hugepage/" + file);
        if (f.available) f.value = bracketed_choice(f.value);
        m.fields[key] = f;
    }
    m.fields["sched_policy"] = sched_policy();
    m.fields["cgroup"] = read_text_file(opt.proc_root + "/self/cgroup");
    cpuset(opt, m.fields["cgroup"], m);
    m.fields["affinity"] = affinity();
    m.fields["perf_event_paranoid"] = read_text_file(opt.proc_root + "/sys/kernel/perf_event_paranoid");
    virtualization(opt, m);
    m.fields["git_commit"] =
        opt.git_commit.empty() ? ManifestField::missing("commit not given by the caller") : ManifestField::of(opt.git_commit);
    m.fields["git_dirty"] = opt.git_dirty ? ManifestField::of(*opt.git_dirty ? "true" : "false")
                                          : ManifestField::missing("dirty state not given by the caller");
    return m;
}

void to_json(nlohmann::json& j, const ManifestField& f) {
    if (f.available) {
        j = nlohmann::json{{"value", f.value}};
    } else {
        j = nlohmann::json{{"unavailable", f.reason.empty() ? std::string("unknown reason") : f.reason}};
    }
}

void to_json(nlohmann::json& j, const Manifest& m) {
    j = nlohmann::json::object();
    for (const auto& k : manifest_keys()) {
        const auto it = m.fields.find(k);
        j[k] = it != m.fields.end() ? nlohmann::json(it->second)
                                    : nlohmann::json(ManifestField::missing("not collected"));
    }
    nlohmann::json per = nlohmann::json::object();
    for (const auto& [cpu, f] : m.governors) per["cpu" + std::to_string(cpu)] = f;
    j["cpufreq_governor_per_cpu"] = std::move(per);
}

}  // namespace spill::measure
