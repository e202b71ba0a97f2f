// harness/src/results.hpp: the result document of harness/SCHEMA.md: the one
// reader of result files (for --resume and merge), the points of a run, and
// the atomic writes of the JSON (and, on request, of the CSV beside it).
//
// Points arrive as the JSON of their typed record (record.hpp) or, resumed
// or merged, as read from a file; the document never computes from them.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spill::bench {

using json = nlohmann::ordered_json;

/// The version of harness/SCHEMA.md this spill-bench writes (and the only
/// one --resume and merge accept).
inline constexpr int schema_version = 2;

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

    /// Writes PATH (JSON) and, with `with_csv`, PATH-with-.csv (one row per
    /// repetition), each through a temporary file, fsync and rename.
    void write(const std::string& path, bool with_csv) const;
    /// The CSV view of the points: one row per repetition, flattened from
    /// each point's record as written (so resumed and merged points get
    /// rows too). Columns that only some points have appear only when a
    /// point of the document has them.
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
