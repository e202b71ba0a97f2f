// harness/src/grid.cpp: see grid.hpp.
#include "grid.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

namespace spill::bench {
namespace {

std::string trim(const std::string& s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
    return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    out.push_back(cur);
    return out;
}

// Strict unsigned parse of a piece of a list; `whole` is quoted in the message.
std::uint64_t piece_uint(const std::string& piece, const std::string& whole, const std::string& what) {
    if (piece.empty()) throw InputError(what + ": malformed list '" + whole + "' (empty element)");
    std::uint64_t v = 0;
    for (char c : piece) {
        if (c < '0' || c > '9') throw InputError(what + ": malformed value '" + whole + "' ('" + piece + "' is not a non-negative integer)");
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) throw InputError(what + ": value '" + piece + "' is too large");
        v = v * 10 + d;
    }
    return v;
}

}  // namespace

std::string grid_keys() {
    std::string keys;
    for (const GridParameter& row : grid_parameters()) keys += std::string(keys.empty() ? "" : ", ") + row.option;
    return keys + ", " + delay_mode_option + ", " + placement_option;
}

std::uint64_t parse_uint(const std::string& text, const std::string& what) {
    const std::string t = trim(text);
    return piece_uint(t, t, what);
}

std::vector<std::uint64_t> parse_list(const std::string& text, const std::string& what) {
    const std::string t = trim(text);
    if (t.empty()) throw InputError(what + ": empty value");
    std::vector<std::uint64_t> out;
    std::set<std::uint64_t> seen;
    auto add = [&](std::uint64_t v) {
        if (seen.insert(v).second) out.push_back(v);
    };
    constexpr std::size_t max_values = 100000;
    for (const std::string& raw : split(t, ',')) {
        const std::string e = trim(raw);
        if (e.empty()) throw InputError(what + ": malformed list '" + t + "' (empty element)");
        const auto dash = e.find('-');
        if (dash == std::string::npos) {
            add(piece_uint(e, t, what));
            continue;
        }
        // A range: LO-HI, LO-HI:xF (geometric) or LO-HI:+S (arithmetic).
        const std::string lo_s = e.substr(0, dash);
        std::string rest = e.substr(dash + 1);
        std::string step_s;
        if (const auto colon = rest.find(':'); colon != std::string::npos) {
            step_s = rest.substr(colon + 1);
            rest = rest.substr(0, colon);
        }
        const std::uint64_t lo = piece_uint(lo_s, t, what);
        const std::uint64_t hi = piece_uint(rest, t, what);
        if (lo > hi) throw InputError(what + ": range '" + e + "' is descending (low end above high end)");
        bool geometric = false;
        std::uint64_t step = 1;
        if (!step_s.empty()) {
            if (step_s[0] == 'x' || step_s[0] == '*') {
                geometric = true;
                step = piece_uint(step_s.substr(1), t, what);
                if (step < 2) throw InputError(what + ": range '" + e + "' needs a factor of at least 2 after ':x'");
                if (lo == 0) throw InputError(what + ": geometric range '" + e + "' cannot start at 0");
            } else if (step_s[0] == '+') {
                step = piece_uint(step_s.substr(1), t, what);
                if (step == 0) throw InputError(what + ": range '" + e + "' has a zero step");
            } else {
                throw InputError(what + ": range '" + e + "' has a malformed step '" + step_s + "' (use :x2 or :+10)");
            }
        } else if (e.find(':') != std::string::npos) {
            throw InputError(what + ": range '" + e + "' has an empty step");
        }
        std::size_t n = 0;
        for (std::uint64_t v = lo; v <= hi;) {
            add(v);
            if (++n > max_values) throw InputError(what + ": range '" + e + "' expands to more than 100000 values");
            std::uint64_t next = geometric ? v * step : v + step;
            if (next <= v) break;  // overflow
            v = next;
        }
    }
    return out;
}

Shard parse_shard(const std::string& text) {
    const std::string t = trim(text);
    const auto slash = t.find('/');
    if (slash == std::string::npos) throw InputError("--shard: malformed value '" + t + "' (expected i/n, e.g. 0/4)");
    Shard s;
    try {
        s.index = piece_uint(t.substr(0, slash), t, "--shard");
        s.count = piece_uint(t.substr(slash + 1), t, "--shard");
    } catch (const InputError&) {
        throw InputError("--shard: malformed value '" + t + "' (expected i/n, e.g. 0/4)");
    }
    if (s.count == 0) throw InputError("--shard: '" + t + "' has zero shards");
    if (s.index >= s.count) throw InputError("--shard: index in '" + t + "' must be below the shard count (shards are numbered from 0)");
    return s;
}

PinPolicy parse_pin(const std::string& text) {
    if (text == "compact") return PinPolicy::compact;
    if (text == "scatter") return PinPolicy::scatter;
    if (text == "none") return PinPolicy::none;
    throw InputError("--pin: unknown policy '" + text + "' (expected compact, scatter or none)");
}

const char* to_string(PinPolicy p) noexcept {
    switch (p) {
        case PinPolicy::compact: return "compact";
        case PinPolicy::scatter: return "scatter";
        case PinPolicy::none: return "none";
    }
    return "?";
}

DelayMode parse_delay_mode(const std::string& text) {
    const std::string t = trim(text);
    if (t == "busy_item") return DelayMode::busy_item;
    if (t == "busy_batch") return DelayMode::busy_batch;
    if (t == "block_item") return DelayMode::block_item;
    if (t == "block_batch") return DelayMode::block_batch;
    throw InputError("--delay-mode: unknown mode '" + t + "' (expected busy_item, busy_batch, block_item or block_batch)");
}

const char* to_string(DelayMode d) noexcept {
    switch (d) {
        case DelayMode::busy_item: return "busy_item";
        case DelayMode::busy_batch: return "busy_batch";
        case DelayMode::block_item: return "block_item";
        case DelayMode::block_batch: return "block_batch";
    }
    return "?";
}

std::vector<DelayMode> parse_delay_modes(const std::string& text) {
    std::vector<DelayMode> out;
    for (const std::string& e : split(trim(text), ',')) {
        if (trim(e).empty()) throw InputError("--delay-mode: malformed list '" + text + "' (empty element)");
        const DelayMode d = parse_delay_mode(e);
        if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
    return out;
}

std::vector<std::string> parse_placements(const std::string& text) {
    static const char* const known[] = {"same_core", "same_l2", "same_l3", "other_l3", "other_numa", "other_package", "all"};
    std::vector<std::string> out;
    for (const std::string& raw : split(trim(text), ',')) {
        const std::string e = trim(raw);
        if (e.empty()) throw InputError("--placement: malformed list '" + text + "' (empty element)");
        if (std::find(std::begin(known), std::end(known), e) == std::end(known))
            throw InputError("--placement: unknown class '" + e +
                             "' (expected same_core, same_l2, same_l3, other_l3, other_numa, other_package or all)");
        if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    return out;
}

void check_ring_size(std::uint64_t n) {
    if (n < min_ring_size || n > max_ring_size || (n & (n - 1)) != 0)
        throw InputError("--ring-size: " + std::to_string(n) + " is not a compiled ring size (powers of two from 64 to 65536)");
}

const std::vector<GridParameter>& grid_parameters() {
    // Expansion order: the first row is the outermost loop.
    static const std::vector<GridParameter> rows = {
        {"items", "items", "items per repetition, over all producers [100000]", &Grid::items, &Params::items, nullptr, 1, false},
        {"rounds", "rounds", "rounds per repetition [100]", &Grid::rounds, &Params::rounds, &ParamUse::rounds, 1, false},
        {"producers", "producers", "producer threads (pool workers) [2]", &Grid::producers, &Params::producers, &ParamUse::producers, 1, false},
        {"mergers", "mergers", "merger threads (mpsm) or stage-2 workers (pipeline) [1]", &Grid::mergers, &Params::mergers, &ParamUse::mergers, 1,
         false},
        {"ring_size", "ring-size", "ring capacity, power of two 64..65536; the queue capacity of a baseline [1024]", &Grid::ring_size,
         &Params::ring_size, &ParamUse::ring_size, 1024, false},
        {"batch", "batch",
         "items per bulk call of a baseline queue, both sides (1 for a per-item queue) [1 per item, else min(256, ring-size)]",
         &Grid::batch, &Params::batch, &ParamUse::batch, 0, true},
        {"consumer_delay_ns", "consumer-delay-ns", "consumer slowdown in ns [0]", &Grid::consumer_delay_ns, &Params::consumer_delay_ns,
         &ParamUse::consumer_delay, 0, false},
        {"rate_items_per_s", "rate-items-per-s", "open-loop target rate over all producers (latency_open) [100000]", &Grid::rate_items_per_s,
         &Params::rate_items_per_s, &ParamUse::rate, 0, true},
        {"contend", "contend", "busy neighbour threads (CPU-bound, pinned after the point's threads) during the measured phase [0]",
         &Grid::contend, &Params::contend, nullptr, 0, true},
        {"one_cpu", "one-cpu",
         "1: the point's own threads all on the first CPU of the pin plan, busy neighbours on the CPUs after it; 0 or 1 [0]",
         &Grid::one_cpu, &Params::one_cpu, nullptr, 0, true},
        {"consumer_alone", "consumer-alone",
         "1: the consumer alone on the first CPU of the pin plan, the point's other threads and busy neighbours on the CPUs after it; 0 "
         "or 1 [0]",
         &Grid::consumer_alone, &Params::consumer_alone, &ParamUse::consumer_alone, 0, true},
    };
    return rows;
}

bool set_grid_param(Grid& g, const std::string& key, const std::string& value) {
    const std::string opt = "--" + key;
    for (const GridParameter& row : grid_parameters()) {
        if (key != row.option) continue;
        g.*row.values = parse_list(value, opt);
        return true;
    }
    if (key == delay_mode_option) g.delay_mode = parse_delay_modes(value);
    else if (key == placement_option) g.placement = parse_placements(value);
    else return false;
    return true;
}

std::vector<ParamValue> param_values(const Params& p) {
    std::vector<ParamValue> out;
    for (const GridParameter& row : grid_parameters()) {
        const std::uint64_t v = p.*row.value;
        if (row.absent_when_zero && v == 0) continue;
        out.push_back(ParamValue{row.key, std::to_string(v), v});
    }
    out.push_back(ParamValue{"delay_mode", to_string(p.delay_mode), std::nullopt});
    if (!p.placement.empty()) out.push_back(ParamValue{"placement", p.placement, std::nullopt});
    return out;
}

std::string PointSpec::id() const {
    std::vector<ParamValue> vs = param_values(params);
    std::sort(vs.begin(), vs.end(), [](const ParamValue& a, const ParamValue& b) { return a.key < b.key; });
    std::string s = scenario;
    for (const ParamValue& v : vs) s += "|" + v.key + "=" + v.text;
    return s;
}

std::vector<PointSpec> expand(const Grid& g, const ParamUse& use) {
    const std::string where = g.origin.empty() ? "" : " (" + g.origin + ")";
    for (std::uint64_t p : g.producers)
        if (p == 0) throw InputError("--producers: 0 producers" + where + " (need at least 1)");
    for (std::uint64_t p : g.producers)
        if (p > 256) throw InputError("--producers: " + std::to_string(p) + " producers" + where + " is above the limit of 256");
    for (std::uint64_t m : g.mergers)
        if (m == 0) throw InputError("--mergers: 0 mergers" + where + " (need at least 1)");
    for (std::uint64_t r : g.rounds)
        if (r == 0) throw InputError("--rounds: 0 rounds" + where + " (need at least 1)");
    for (std::uint64_t i : g.items)
        if (i == 0) throw InputError("--items: 0 items" + where + " (need at least 1)");
    for (std::uint64_t d : g.consumer_delay_ns)
        if (d > 1000000000) throw InputError("--consumer-delay-ns: " + std::to_string(d) + where + " is above the limit of 1 s");
    if (use.rate) {
        for (std::uint64_t r : g.rate_items_per_s) {
            if (r == 0)
                throw InputError("--rate-items-per-s: 0" + where + " for " + g.scenario + " (an open loop needs a target rate above 0)");
            if (r > max_rate_items_per_s)
                throw InputError("--rate-items-per-s: " + std::to_string(r) + where + " is above the limit of " + std::to_string(max_rate_items_per_s));
        }
    }
    if (use.batch)
        for (std::uint64_t b : g.batch)
            if (b == 0) throw InputError("--batch: 0" + where + " (need at least 1 item per bulk call)");
    for (std::uint64_t c : g.contend)
        if (c > max_contend)
            throw InputError("--contend: " + std::to_string(c) + " busy neighbours" + where + " is above the limit of " + std::to_string(max_contend));
    for (std::uint64_t v : g.one_cpu) {
        if (v > 1) throw InputError("--one-cpu: " + std::to_string(v) + where + " (expected 0 or 1)");
        if (v == 1 && !g.placement.empty())
            throw InputError("--one-cpu: 1" + where + " with --placement (a placement class puts the point's threads on a pair of CPUs)");
    }
    for (std::uint64_t v : g.consumer_alone) {
        if (v > 1) throw InputError("--consumer-alone: " + std::to_string(v) + where + " (expected 0 or 1)");
        if (v == 1 && use.consumer_alone && std::find(g.one_cpu.begin(), g.one_cpu.end(), 1) != g.one_cpu.end())
            throw InputError("--consumer-alone: 1" + where + " with --one-cpu 1 (one puts every thread of the point on one CPU, the other "
                             "gives the consumer a CPU of its own)");
    }
    for (std::uint64_t r : g.ring_size) {
        try {
            check_ring_size(r);
        } catch (const InputError& e) {
            throw InputError(e.what() + where);
        }
    }
    // The cartesian product, as an odometer over the rows (first row
    // outermost) and the delay mode (innermost). A row the scenario does not
    // sweep takes its neutral value: one value, so no repeated points.
    const auto& rows = grid_parameters();
    std::vector<std::vector<std::uint64_t>> axes;
    for (const GridParameter& row : rows) {
        const bool swept = row.swept == nullptr || use.*row.swept;
        axes.push_back(swept ? g.*row.values : std::vector<std::uint64_t>{row.neutral});
        // No --batch given: one placeholder value, the scenario's default below.
        if (row.values == &Grid::batch && swept && g.batch.empty()) axes.back() = {0};
        if (axes.back().empty()) return {};
    }
    const std::vector<DelayMode> modes = use.consumer_delay ? g.delay_mode : std::vector<DelayMode>{DelayMode::busy_item};
    if (modes.empty()) return {};
    std::vector<std::size_t> at(rows.size() + 1, 0);
    std::vector<PointSpec> out;
    std::set<std::string> ids;
    for (;;) {
        PointSpec p;
        p.scenario = g.scenario;
        Params& q = p.params;
        for (std::size_t k = 0; k < rows.size(); ++k) q.*rows[k].value = axes[k][at[k]];
        q.delay_mode = q.consumer_delay_ns != 0 ? modes[at.back()] : DelayMode::busy_item;
        if (use.batch && g.batch.empty()) q.batch = std::min(std::max<std::uint64_t>(use.default_batch, 1), q.ring_size);
        if (use.rate && q.items / q.rate_items_per_s > max_paced_seconds)
            throw InputError("--rate-items-per-s: " + std::to_string(q.rate_items_per_s) + " items/s" + where + " would take " +
                             std::to_string(q.items / q.rate_items_per_s) + " s for " + std::to_string(q.items) + " items (limit " +
                             std::to_string(max_paced_seconds) + " s per repetition)");
        if (use.mergers && use.mergers_need_producers && q.mergers > q.producers)
            throw InputError("--mergers: " + std::to_string(q.mergers) + " mergers for " + std::to_string(q.producers) + " producers in " +
                             g.scenario + where + " (each merger needs at least one producer)");
        if (q.items < q.producers * q.rounds)
            throw InputError("--items: " + std::to_string(q.items) + " items" + where + " is fewer than producers x rounds (" +
                             std::to_string(q.producers) + " x " + std::to_string(q.rounds) + ") for " + g.scenario);
        if (ids.insert(p.id()).second) out.push_back(std::move(p));
        // Next combination: the innermost axis turns fastest.
        std::size_t k = at.size();
        while (k > 0) {
            --k;
            const std::size_t size = k == rows.size() ? modes.size() : axes[k].size();
            if (++at[k] < size) break;
            at[k] = 0;
            if (k == 0) return out;
        }
    }
}

namespace {

// How deep `include` may nest; deeper is surely a mistake (a cycle is caught
// before that, by name).
constexpr std::size_t max_include_depth = 8;

SweepFile load_sweep_in(const std::string& path, std::vector<std::filesystem::path>& chain);

// One file's text. `chain` holds the files being read, outermost first (an
// empty path for text that comes from no file); a file read below the first is
// an included one, which may not set file-wide settings: those of the file the
// sweep was started from apply.
SweepFile parse_sweep_in(const std::string& text, const std::string& name, std::vector<std::filesystem::path>& chain) {
    const bool included = chain.size() > 1;
    SweepFile f;
    Grid defaults;
    bool in_section = false;
    std::istringstream in(text);
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        const std::string at = name + ":" + std::to_string(lineno);
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        const std::string t = trim(line);
        if (t.empty()) continue;
        if (t.front() == '[') {
            if (t.back() != ']' || t.size() < 3) throw InputError(at + ": malformed section header '" + t + "' (expected [scenario])");
            Grid g = defaults;
            g.scenario = trim(t.substr(1, t.size() - 2));
            g.origin = at;
            if (g.scenario.empty() || g.scenario.find_first_of(" \t[]") != std::string::npos)
                throw InputError(at + ": malformed section header '" + t + "'");
            f.grids.push_back(std::move(g));
            in_section = true;
            continue;
        }
        const auto eq = t.find('=');
        if (eq == std::string::npos) throw InputError(at + ": malformed line '" + t + "' (expected key = value or [scenario])");
        const std::string key = trim(t.substr(0, eq));
        const std::string value = trim(t.substr(eq + 1));
        if (value.empty()) throw InputError(at + ": key '" + key + "' has no value");
        try {
            if (set_grid_param(in_section ? f.grids.back() : defaults, key, value)) continue;
            if (key == "include") {
                if (in_section) throw InputError("'include' is a file-wide key: put it before the first [scenario] section");
                // Relative to the including file, so a sweep reads the same from any working directory.
                std::filesystem::path inc(value);
                if (inc.is_relative()) inc = std::filesystem::path(name).parent_path() / inc;
                SweepFile sub = load_sweep_in(inc.string(), chain);
                for (Grid& g : sub.grids) f.grids.push_back(std::move(g));
                continue;
            }
            if (in_section) throw InputError("unknown key '" + key + "' in a scenario section (grid keys: " + grid_keys() + ")");
            if (key == "repetitions") f.settings.repetitions = parse_uint(value, key);
            else if (key == "warmup") f.settings.warmup = parse_uint(value, key);
            else if (key == "pin") {
                (void)parse_pin(value);
                f.settings.pin = value;
            } else if (key == "counters") f.settings.counters = value;
            else if (key == "seed") f.settings.seed = parse_uint(value, key);
            else throw InputError("unknown key '" + key + "'");
            // A file-wide setting, read and valid: an included file may not have it.
            if (included)
                throw InputError("'" + key + "' cannot be set in an included file (the settings of the file that includes it apply)");
        } catch (const InputError& e) {
            throw InputError(at + ": " + e.what());
        }
    }
    if (f.grids.empty()) throw InputError(name + ": no [scenario] section");
    return f;
}

SweepFile load_sweep_in(const std::string& path, std::vector<std::filesystem::path>& chain) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw InputError("cannot read sweep file '" + path + "' (no such file)");
    const std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
    if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) throw InputError("'" + path + "' is already being read (an include cycle)");
    if (chain.size() > max_include_depth)
        throw InputError("'" + path + "': includes nest deeper than " + std::to_string(max_include_depth) + " files");
    std::ifstream in(path);
    if (!in) throw InputError("cannot read sweep file '" + path + "'");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw InputError("cannot read sweep file '" + path + "'");
    chain.push_back(canonical);
    SweepFile f = parse_sweep_in(text.str(), path, chain);
    chain.pop_back();
    return f;
}

}  // namespace

SweepFile parse_sweep(const std::string& text, const std::string& name) {
    // The text stands for the file `name`: an include in it is relative to name's directory.
    std::vector<std::filesystem::path> chain{std::filesystem::path()};
    return parse_sweep_in(text, name, chain);
}

SweepFile load_sweep(const std::string& path) {
    std::vector<std::filesystem::path> chain;
    return load_sweep_in(path, chain);
}

std::vector<PointSpec> select_shard(const std::vector<PointSpec>& points, const Shard& s) {
    std::vector<PointSpec> out;
    for (std::size_t i = 0; i < points.size(); ++i)
        if (i % s.count == s.index) out.push_back(points[i]);
    return out;
}

}  // namespace spill::bench
