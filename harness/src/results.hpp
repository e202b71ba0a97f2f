// harness/src/results.hpp: the result document of harness/SCHEMA.md: load
// (for --resume and merge), add points, and write JSON + CSV atomically.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spill::bench {

using json = nlohmann::ordered_json;

inline constexpr int schema_version = 1;

/// Summary statistics of one metric over the repetitions.
json summarize(const std::vector<double>& values);

class ResultDoc {
public:
    ResultDoc() = default;
    explicit ResultDoc(json metadata);

    /// Reads a result file; throws InputError (naming the file and the
    /// problem) if it is unreadable, not JSON, or not schema version 1.
    static ResultDoc load(const std::string& path, const std::string& what);

    [[nodiscard]] bool has(const std::string& id) const { return ids_.count(id) != 0; }
    void add_point(json point);
    [[nodiscard]] json& metadata() { return doc_["metadata"]; }
    [[nodiscard]] const json& doc() const { return doc_; }
    [[nodiscard]] std::size_t size() const { return doc_["points"].size(); }

    /// Writes PATH (JSON) and PATH-with-.csv (one row per repetition), each
    /// through a temporary file, fsync and rename.
    void write(const std::string& path) const;
    [[nodiscard]] std::string csv() const;

private:
    json doc_;
    std::set<std::string> ids_;
};

/// The CSV path beside a JSON path: "x.json" -> "x.csv", "x" -> "x.csv".
std::string csv_path_for(const std::string& json_path);
/// Writes `text` to `path` atomically (temporary file in the same directory,
/// fsync, rename, fsync of the directory). Throws std::runtime_error.
void write_atomically(const std::string& path, const std::string& text);
/// Throws InputError if the directory that would hold `path` does not exist.
void check_output_path(const std::string& path);

}  // namespace spill::bench
