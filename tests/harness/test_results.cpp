// Specification of spill-bench's result document: the CSV beside the JSON
// (on request), atomic writes, and what --resume and merge accept.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "grid.hpp"
#include "results.hpp"

using namespace spill::bench;
namespace fs = std::filesystem;

namespace {
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "spill-results-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};
std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
json a_point(const std::string& id, std::size_t reps) {
    json p;
    p["id"] = id;
    p["scenario"] = "pool";
    p["params"] = {{"producers", 2}, {"mergers", 1}, {"ring_size", 64}, {"consumer_delay_ns", 0}, {"delay_mode", "busy_item"}, {"items", 10}, {"rounds", 1}};
    p["repetitions"] = json::array();
    for (std::size_t k = 0; k < reps; ++k)
        p["repetitions"].push_back({{"seconds", 0.5},
                                    {"items", 10},
                                    {"items_per_second", 20.0},
                                    {"counters", {{"cpu_seconds", 1.0}, {"allocations", 0}, {"PAPI_TOT_CYC", nullptr}}},
                                    {"checks", {{"produced", 10}, {"delivered", 10}, {"overflowed", 0}, {"merged_items", 0}, {"passed", true}}}});
    p["oversubscribed"] = false;
    return p;
}
}  // namespace

TEST_CASE("csv_path_for: the CSV sits beside the JSON", "[harness][results]") {
    CHECK(csv_path_for("results/latest.json") == "results/latest.csv");
    CHECK(csv_path_for("out") == "out.csv");
}

TEST_CASE("ResultDoc::write: JSON and, when asked, CSV (one row per repetition) replace the old files whole", "[harness][results]") {
    TempDir dir;
    const std::string out = (dir.path / "r.json").string();
    ResultDoc doc(json{{"tool", "spill-bench"}});
    doc.add_point(a_point("a", 2));
    doc.write(out, false);
    CHECK_FALSE(fs::exists(dir.path / "r.csv"));  // no CSV unless asked
    doc.add_point(a_point("b", 3));
    doc.write(out, true);
    const json back = json::parse(slurp(out));
    CHECK(back["schema_version"] == schema_version);
    CHECK(back["points"].size() == 2);
    const std::string csv = slurp(dir.path / "r.csv");
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 5);  // header + one row per repetition
    CHECK(csv.find("PAPI_TOT_CYC") != std::string::npos);      // extra counters get a column, null is empty
    CHECK(csv.find("merged_items") != std::string::npos);      // items moved by merge backs, named as items
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    CHECK(files == 2);  // no temporary file left behind
}

TEST_CASE("ResultDoc::load: only spill-bench files of this schema version are accepted", "[harness][results]") {
    TempDir dir;
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir.path / name) << text;
        return (dir.path / name).string();
    };
    const auto error_of = [](const std::string& p) {
        try {
            (void)ResultDoc::load(p, "--resume");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error_of(write("v1.json", R"({"schema_version": 1, "metadata": {"tool": "spill-bench"}, "points": []})")).find("schema_version 1") !=
          std::string::npos);  // an older file is not resumed into (its points lack facts, config, merged_items)
    CHECK(error_of(write("junk.json", "not json")).find("not valid JSON") != std::string::npos);
    CHECK(error_of(write("other.json", R"({"schema_version": 2, "metadata": {"tool": "other"}, "points": []})")).find("not a spill-bench") !=
          std::string::npos);
    CHECK(error_of((dir.path / "missing.json").string()).find("cannot read") != std::string::npos);
    const ResultDoc ok = ResultDoc::load(write("ok.json", R"({"schema_version": 2, "metadata": {"tool": "spill-bench"}, "points": [{"id": "x"}]})"),
                                         "--resume");
    CHECK(ok.has("x"));
    CHECK_FALSE(ok.has("y"));
}
