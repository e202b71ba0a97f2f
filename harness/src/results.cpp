// harness/src/results.cpp: see results.hpp.
#include "results.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "grid.hpp"

namespace spill::bench {

ResultDoc::ResultDoc(json metadata) {
    doc_["schema_version"] = schema_version;
    doc_["metadata"] = std::move(metadata);
    doc_["points"] = json::array();
}

ResultDoc ResultDoc::load(const std::string& path, const std::string& what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw InputError(what + ": cannot read result file '" + path + "'");
    std::ifstream in(path);
    if (!in) throw InputError(what + ": cannot read result file '" + path + "'");
    ResultDoc r;
    try {
        r.doc_ = json::parse(in);
    } catch (const std::exception&) {
        throw InputError(what + ": '" + path + "' is not valid JSON");
    }
    if (!r.doc_.is_object() || !r.doc_.contains("schema_version"))
        throw InputError(what + ": '" + path + "' is not a spill-bench result file (no schema_version)");
    if (r.doc_["schema_version"] != schema_version)
        throw InputError(what + ": '" + path + "' has schema_version " + r.doc_["schema_version"].dump() + ", this spill-bench writes " +
                         std::to_string(schema_version));
    if (!r.doc_.contains("metadata") || !r.doc_["metadata"].is_object() || r.doc_["metadata"].value("tool", "") != "spill-bench" ||
        !r.doc_.contains("points") || !r.doc_["points"].is_array())
        throw InputError(what + ": '" + path + "' is not a spill-bench result file (metadata.tool or points missing)");
    for (const json& p : r.doc_["points"]) {
        if (!p.is_object() || !p.contains("id") || !p["id"].is_string())
            throw InputError(what + ": '" + path + "' has a point without an id");
        r.ids_.insert(p["id"].get<std::string>());
    }
    return r;
}

void ResultDoc::add_point(json point) {
    ids_.insert(point["id"].get<std::string>());
    doc_["points"].push_back(std::move(point));
}

namespace {
std::string csv_field(const json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (s.find_first_of(",\"\n") == std::string::npos) return s;
        std::string q = "\"";
        for (char c : s) {
            if (c == '"') q += '"';
            q += c;
        }
        return q + "\"";
    }
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return v.dump();
}
}  // namespace

std::string ResultDoc::csv() const {
    std::vector<std::string> param_cols = {"producers", "mergers", "ring_size", "consumer_delay_ns", "delay_mode", "items", "rounds"};
    static const std::vector<std::string> fixed_counters = {"cpu_seconds", "voluntary_context_switches", "involuntary_context_switches", "page_faults",
                                                            "allocations"};
    static const std::vector<std::string> check_cols = {"produced", "delivered", "overflowed", "merged_items", "dropped", "passed"};
    // Extra counter columns (PAPI events), in first-seen order.
    std::vector<std::string> extra;
    for (const json& p : doc_["points"])
        for (const json& r : p.value("repetitions", json::array()))
            for (auto it = r["counters"].begin(); it != r["counters"].end(); ++it)
                if (std::find(fixed_counters.begin(), fixed_counters.end(), it.key()) == fixed_counters.end() &&
                    std::find(extra.begin(), extra.end(), it.key()) == extra.end())
                    extra.push_back(it.key());
    // Columns that only some scenarios have (the open-loop rate, the latency
    // percentiles) appear only when a point of the file has them.
    bool any_rate = false;
    bool any_latency = false;
    for (const json& p : doc_["points"]) {
        any_rate = any_rate || (p.contains("params") && p["params"].contains("rate_items_per_s"));
        for (const json& r : p.value("repetitions", json::array())) any_latency = any_latency || r.contains("latency");
    }
    if (any_rate) param_cols.push_back("rate_items_per_s");
    // The parameters a point records only when set (a queue's batch, busy neighbours, one CPU, consumer alone).
    for (const char* key : {"batch", "contend", "one_cpu", "consumer_alone"}) {
        bool any = false;
        for (const json& p : doc_["points"]) any = any || (p.contains("params") && p["params"].contains(key));
        if (any) param_cols.push_back(key);
    }
    bool any_placement = false;  // a swept --placement class (harness/SCHEMA.md, placement)
    for (const json& p : doc_["points"]) any_placement = any_placement || (p.contains("params") && p["params"].contains("placement"));
    if (any_placement) param_cols.push_back("placement");
    struct LatCol {
        std::string name;
        const char* block;
        const char* field;
    };
    std::vector<LatCol> lat_cols;
    if (any_latency) {
        lat_cols.push_back({"latency_target_items_per_second", nullptr, "target_items_per_second"});
        lat_cols.push_back({"latency_achieved_items_per_second", nullptr, "achieved_items_per_second"});
        for (const char* block : {"item_ns", "handoff_ns"})
            for (const char* field : {"count", "p50", "p99", "p99_9", "max"}) {
                const std::string b(block);
                const std::string f(field);
                // latency_item_p99_ns, latency_handoff_count ...
                lat_cols.push_back({"latency_" + b.substr(0, b.size() - 3) + "_" + f + (f == "count" ? "" : "_ns"), block, field});
            }
    }
    std::ostringstream o;
    o << "id,scenario,contender";
    for (auto& c : param_cols) o << ',' << c;
    o << ",repetition,seconds,items,items_per_second";
    for (auto& c : fixed_counters) o << ',' << c;
    for (auto& c : extra) o << ',' << c;
    for (auto& c : check_cols) o << ',' << c;
    o << ",oversubscribed";
    for (auto& c : lat_cols) o << ',' << c.name;
    o << '\n';
    for (const json& p : doc_["points"]) {
        std::size_t k = 0;
        for (const json& r : p.value("repetitions", json::array())) {
            o << csv_field(p["id"]) << ',' << csv_field(p["scenario"]) << ','
              << csv_field(p.contains("facts") && p["facts"].is_object() ? p["facts"].value("contender", json()) : json());
            for (auto& c : param_cols) o << ',' << csv_field(p["params"].value(c, json()));
            o << ',' << k++ << ',' << csv_field(r["seconds"]) << ',' << csv_field(r["items"]) << ',' << csv_field(r["items_per_second"]);
            for (auto& c : fixed_counters) o << ',' << csv_field(r["counters"].value(c, json()));
            for (auto& c : extra) o << ',' << csv_field(r["counters"].value(c, json()));
            for (auto& c : check_cols) o << ',' << csv_field(r["checks"].value(c, json()));
            o << ',' << csv_field(p.value("oversubscribed", json()));
            for (auto& c : lat_cols) {
                json v;
                if (r.contains("latency") && r["latency"].is_object()) {
                    const json& l = r["latency"];
                    if (!c.block) v = l.value(c.field, json());
                    else if (l.contains(c.block) && l[c.block].is_object()) v = l[c.block].value(c.field, json());
                }
                o << ',' << csv_field(v);
            }
            o << '\n';
        }
    }
    return o.str();
}

std::string csv_path_for(const std::string& json_path) {
    std::filesystem::path p(json_path);
    if (p.extension() == ".json") p.replace_extension(".csv");
    else p += ".csv";
    return p.string();
}

void write_atomically(const std::string& path, const std::string& text) {
    const std::filesystem::path target(path);
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::string tmp_name = ".";
    tmp_name += target.filename().string();
    tmp_name += ".tmp.";
    tmp_name += std::to_string(::getpid());
    const std::string tmp = (dir / tmp_name).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create '" + tmp + "': " + std::strerror(errno));
    std::size_t off = 0;
    while (off < text.size()) {
        const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string err = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            throw std::runtime_error("cannot write '" + tmp + "': " + err);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot flush '" + tmp + "'");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + err);
    }
    // The rename is durable once the directory entry is.
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

void ResultDoc::write(const std::string& path, bool with_csv) const {
    write_atomically(path, doc_.dump(2) + "\n");
    if (with_csv) write_atomically(csv_path_for(path), csv());
}

void check_output_path(const std::string& path) {
    if (path.empty()) throw InputError("--out: empty file name");
    const std::filesystem::path p(path);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) throw InputError("--out: '" + path + "' is a directory, not a file name");
    const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    if (!std::filesystem::is_directory(dir, ec)) throw InputError("--out: directory '" + dir.string() + "' does not exist");
    if (::access(dir.c_str(), W_OK) != 0) throw InputError("--out: directory '" + dir.string() + "' is not writable");
}

}  // namespace spill::bench
