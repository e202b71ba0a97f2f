// harness/src/grid.hpp: parsing of the runner's inputs (value lists, shard,
// pin policy, delay mode, sweep files) and expansion of a grid into points.
//
// Every parser throws spill::bench::InputError with a one-line message that
// names the offending value; main() prints it and exits non-zero before any
// output file is touched.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spill::bench {

/// Bad user input. The message is one line and names the bad value.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Parses "1,2,4", "1-8", "1-64:x2", "0-1000:+250" or mixes ("1,8-16:x2").
/// Values keep the order written; duplicates are removed (first wins).
/// `what` names the option in error messages.
std::vector<std::uint64_t> parse_list(const std::string& text, const std::string& what);

/// Parses one unsigned integer (the whole text must be a number).
std::uint64_t parse_uint(const std::string& text, const std::string& what);

/// A shard "i/n": run the points whose index p has p % n == i (0 <= i < n).
struct Shard {
    std::uint64_t index = 0;
    std::uint64_t count = 1;
    friend bool operator==(const Shard&, const Shard&) = default;
};
Shard parse_shard(const std::string& text);

enum class PinPolicy { compact, scatter, none };
PinPolicy parse_pin(const std::string& text);
const char* to_string(PinPolicy p) noexcept;

enum class DelayMode { busy_item, busy_batch, block_item, block_batch };
DelayMode parse_delay_mode(const std::string& text);
const char* to_string(DelayMode d) noexcept;
/// Parses a comma-separated list of delay modes.
std::vector<DelayMode> parse_delay_modes(const std::string& text);
/// Parses a comma-separated list of placement classes (same_core, same_l2,
/// same_l3, other_l3, other_numa, other_package) or "all"; duplicates dropped.
std::vector<std::string> parse_placements(const std::string& text);

/// The ring sizes spill-bench is compiled for (SpillRing takes N at compile time).
inline constexpr std::uint64_t min_ring_size = 64;
inline constexpr std::uint64_t max_ring_size = 65536;
/// Throws InputError unless `n` is one of the compiled ring sizes.
void check_ring_size(std::uint64_t n);

/// One scenario's grid: every value of every swept parameter.
struct Grid {
    std::string scenario;
    std::vector<std::uint64_t> producers{2};
    std::vector<std::uint64_t> mergers{1};
    std::vector<std::uint64_t> ring_size{1024};
    std::vector<std::uint64_t> consumer_delay_ns{0};
    std::vector<DelayMode> delay_mode{DelayMode::busy_item};
    std::vector<std::uint64_t> items{100000};
    std::vector<std::uint64_t> rounds{100};
    std::vector<std::uint64_t> rate_items_per_s{100000};  // open-loop target rate (latency_open)
    std::vector<std::uint64_t> batch;    // items per bulk call (baselines); empty: each contender's default (ParamUse::default_batch)
    std::vector<std::uint64_t> contend{0};  // busy neighbour threads during the measured phase
    std::vector<std::uint64_t> one_cpu{0};  // 1: the point's own threads share one CPU (pinning_slot)
    std::vector<std::uint64_t> consumer_alone{0};  // 1: the consumer has a CPU to itself (pinning_slot)
    std::vector<std::string> placement;  // --placement classes (or "all"); empty: threads follow --pin
    std::string origin;  // "command line" or "FILE:LINE", for error messages
};

/// Sets grid parameter `key` (option spelling: "ring-size", "consumer-delay-ns"...)
/// from `value`. Returns false if `key` is not a grid parameter.
bool set_grid_param(Grid& g, const std::string& key, const std::string& value);

/// One concrete parameter combination.
struct Params {
    std::uint64_t producers = 1;
    std::uint64_t mergers = 1;
    std::uint64_t ring_size = 1024;
    std::uint64_t consumer_delay_ns = 0;
    DelayMode delay_mode = DelayMode::busy_item;
    std::uint64_t items = 1;
    std::uint64_t rounds = 1;
    /// Open-loop target rate over all producers (items per second); 0 for
    /// every scenario that does not pace its producers. A non-zero rate is
    /// part of the point id and of `params`; 0 appears in neither, so the ids
    /// of the other scenarios are unchanged.
    std::uint64_t rate_items_per_s = 0;
    /// Items per bulk call of a baseline queue's producer and consumer
    /// (--batch); 0 for every scenario that has no such call. Like the rate:
    /// non-zero is in the id and `params`, 0 in neither.
    std::uint64_t batch = 0;
    /// Busy neighbour threads running beside the point's own threads during
    /// the measured phase (--contend); non-zero is in the id and `params`,
    /// 0 (none) in neither, so the ids of uncontended points are unchanged.
    std::uint64_t contend = 0;
    /// 1: every thread of the point itself is pinned to the first CPU of
    /// the pin plan and busy neighbours to the CPUs after it (--one-cpu;
    /// pinning_slot). 0 (the default) in neither the id nor `params`.
    std::uint64_t one_cpu = 0;
    /// 1: the point's consumer thread is pinned alone to the first CPU of
    /// the pin plan, and every other thread (producers, owner, stage-2
    /// workers, busy neighbours) to the CPUs after it (--consumer-alone;
    /// pinning_slot). 0 (the default) in neither the id nor `params`.
    std::uint64_t consumer_alone = 0;
    /// Placement class whose CPU pair the point's threads run on (--placement);
    /// empty when they follow --pin. Non-empty: in the id and in `params`.
    std::string placement;
    friend bool operator==(const Params&, const Params&) = default;
};

/// Which parameters a scenario reads; the others are pinned to neutral values.
struct ParamUse {
    bool producers = true;
    bool mergers = false;
    bool mergers_need_producers = true;  // each merger drains at least one producer's slot
    bool consumer_delay = true;
    bool rounds = true;
    bool ring_size = true;
    bool rate = false;  // paces producers at --rate-items-per-s (open loop)
    bool batch = false; // reads --batch (items per bulk call of a queue)
    bool consumer_alone = false;  // has a `consumer` thread (consumer_role): derived from the roles by Scenario's constructor
    /// The batch of a point whose grid gives no --batch: min(default_batch,
    /// ring_size) (a bulk call never moves more than the capacity).
    std::uint64_t default_batch = 1;
};

/// One numeric grid parameter and every name it goes by. grid_parameters()
/// is the one place a parameter is declared: the command-line options, the
/// sweep-file keys, grid expansion, the point id, a point's `params`, the
/// CSV columns and `spill-bench list` all read it. Adding a parameter is a
/// Grid field, a Params field, a ParamUse flag and a row here.
struct GridParameter {
    const char* key;     // in ids, `params` and CSV columns: "ring_size"
    const char* option;  // on the command line (--ring-size) and in sweep files
    const char* help;    // one line, default in brackets
    std::vector<std::uint64_t> Grid::*values;
    std::uint64_t Params::*value;
    bool ParamUse::*swept;   // nullptr: every scenario sweeps it
    std::uint64_t neutral;   // its value in a scenario that does not sweep it
    bool absent_when_zero;   // 0 means "not set": left out of `params` and the id (the paced rate)
};
/// The numeric parameters, in expansion order (outermost loop first).
const std::vector<GridParameter>& grid_parameters();
/// Every grid key (option spelling), for messages: "items, rounds, ...".
std::string grid_keys();

/// The two parameters that are not plain numbers: the delay mode (swept with
/// the consumer delay, innermost) and the placement class (resolved against
/// the machine by the plan, not by expand()).
inline constexpr const char* delay_mode_option = "delay-mode";
inline constexpr const char* placement_option = "placement";

/// One parameter of a point as it is recorded: its key and value (a number,
/// or text for the delay mode and the placement class).
struct ParamValue {
    std::string key;
    std::string text;                     // the value as written in the id
    std::optional<std::uint64_t> number;  // set for numeric parameters
};
/// Every recorded parameter of `p`, in grid_parameters() order, then
/// delay_mode, then placement; parameters that are "not set" are left out.
/// The point id and a point's `params` object are both made from this list.
std::vector<ParamValue> param_values(const Params& p);

/// A scenario plus its parameters; `id()` is the stable key of SCHEMA.md:
/// the scenario, then `|key=value` for every entry of param_values() in
/// alphabetical order of the keys.
struct PointSpec {
    std::string scenario;
    Params params;
    [[nodiscard]] std::string id() const;
};

/// The role of a busy neighbour thread (--contend) in a point's `threads`
/// records; the pinning rule below and a point's placement record tell the
/// point's own threads from its neighbours by it.
inline constexpr std::string_view neighbour_role = "neighbour";
/// The role of the thread --consumer-alone gives a CPU of its own (pinning_slot);
/// a scenario sweeps that key when its roles include it (Scenario's constructor).
inline constexpr std::string_view consumer_role = "consumer";

/// The pin-plan slot a thread of a point is pinned to: `slot`, as its
/// scenario numbers its threads (busy neighbours after the point's own),
/// except
///  - with --one-cpu 1, where every thread of the point takes slot 0 and
///    busy neighbour k slot 1 + k. So a pipeline whose stages take turns on
///    one CPU can be measured beside neighbours that keep the others busy;
///  - with --consumer-alone 1 and a plan of at least two CPUs
///    (`plan_cpus`), where the consumer takes slot 0 and every other thread
///    the slots 1 .. plan_cpus - 1 in turn, by its own slot. So with more
///    threads than CPUs the consumer, which every item passes through, is
///    not one of the threads that take turns on a CPU.
[[nodiscard]] inline std::size_t pinning_slot(const Params& p, std::string_view role, std::uint64_t index, std::size_t slot,
                                              std::size_t plan_cpus) noexcept {
    if (p.one_cpu != 0) return role == neighbour_role ? 1 + static_cast<std::size_t>(index) : 0;
    if (p.consumer_alone != 0 && plan_cpus >= 2) return role == consumer_role ? 0 : 1 + slot % (plan_cpus - 1);
    return slot;
}

/// The most busy neighbours a point may run (--contend).
inline constexpr std::uint64_t max_contend = 64;

/// Limits of --rate-items-per-s, and of the time one paced repetition may take.
inline constexpr std::uint64_t max_rate_items_per_s = 1000000000;
inline constexpr std::uint64_t max_paced_seconds = 3600;

/// Expands a grid (cartesian product) into points, in a fixed order, after
/// neutralising the parameters the scenario ignores and removing duplicates.
/// Validates each point (ring size, producers >= 1, mergers <= producers when
/// mergers are used, items >= producers...). Throws InputError naming the value.
std::vector<PointSpec> expand(const Grid& g, const ParamUse& use);

/// Options that a sweep file sets once for the whole file.
struct SweepSettings {
    std::optional<std::uint64_t> repetitions;
    std::optional<std::uint64_t> warmup;
    std::optional<std::string> pin;
    std::optional<std::string> counters;
    std::optional<std::uint64_t> seed;
};

/// A parsed sweep file: the file-wide settings and each scenario section.
struct SweepFile {
    SweepSettings settings;
    std::vector<Grid> grids;
};

/// Parses sweep-file text (see harness/README.md for the format). `name` is
/// used in messages: "NAME:LINE: ...", and an `include = FILE` in the text is
/// read relative to name's directory. An included file's sections are added
/// where the include stands, each from its own file's grid defaults; it may
/// not set file-wide settings. A missing included file, an include cycle or
/// an include inside a section is an InputError naming the line.
SweepFile parse_sweep(const std::string& text, const std::string& name);
/// Reads and parses a sweep file; an unreadable file is an InputError.
SweepFile load_sweep(const std::string& path);

/// Keeps the points of one shard (index p with p % count == index).
std::vector<PointSpec> select_shard(const std::vector<PointSpec>& points, const Shard& s);

}  // namespace spill::bench
