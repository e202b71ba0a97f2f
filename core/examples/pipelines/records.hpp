// records.hpp: the toy workload shared by the pipeline examples.
//
// A raw record is one line of text, as a log shipper or a CSV export would
// hand it over:
//
//     id=1234;user=56;amount=78.90;tags=red|blue
//
// Stage functions (pure, so a single-threaded replay gives the exact bytes
// the parallel pipeline must produce):
//   make_line(id)   -> the raw text of record `id` (deterministic)
//   parse(line)     -> Record            (stage "parse")
//   enrich(record)  -> Record            (stage "transform"; idempotent)
//   serialize(rec)  -> std::string       (what goes into a frame)
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace pipeline_example {

/// A parsed record. `enriched` makes enrich() idempotent, which is what lets
/// an evicted record go around a stage again (pipeline3.cpp).
struct Record {
    std::uint64_t id = 0;
    std::uint32_t user = 0;
    std::int64_t cents = 0;
    std::uint32_t tags = 0;       // bit i set: tag i present
    std::int64_t fee_cents = 0;   // filled by enrich()
    std::uint32_t risk = 0;       // filled by enrich()
    bool enriched = false;
    std::uint32_t trips = 0;      // how many times enrich() saw it (recirculation count)
};

inline constexpr std::string_view tag_names[] = {"red", "green", "blue", "gold", "new", "vip"};

/// SplitMix64: a cheap, well-mixed deterministic hash.
inline std::uint64_t mix(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// The raw text of record `id`.
inline std::string make_line(std::uint64_t id) {
    const std::uint64_t h = mix(id);
    std::string s;
    s.reserve(64);
    s += "id=";
    s += std::to_string(id);
    s += ";user=";
    s += std::to_string(h % 10007);
    s += ";amount=";
    const std::uint64_t cents = (h >> 16) % 1000000;
    s += std::to_string(cents / 100);
    s += '.';
    const std::uint64_t frac = cents % 100;
    if (frac < 10) s += '0';
    s += std::to_string(frac);
    s += ";tags=";
    bool first = true;
    for (std::size_t t = 0; t < std::size(tag_names); ++t) {
        if (((h >> (40 + t)) & 1u) == 0) continue;
        if (!first) s += '|';
        s += tag_names[t];
        first = false;
    }
    return s;
}

namespace detail {
template <class Int>
Int number(std::string_view text, std::string_view what) {
    Int v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw std::invalid_argument("bad " + std::string(what) + ": '" + std::string(text) + "'");
    return v;
}

// Returns the value of `key=` at the start of `line` and advances past the ';'.
inline std::string_view field(std::string_view& line, std::string_view key) {
    if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != '=')
        throw std::invalid_argument("expected field '" + std::string(key) + "' in '" + std::string(line) + "'");
    line.remove_prefix(key.size() + 1);
    const std::size_t end = line.find(';');
    std::string_view v = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end + 1);
    return v;
}
}  // namespace detail

/// Stage 1: text -> Record. Throws std::invalid_argument on a malformed line.
inline Record parse(std::string_view line) {
    Record r;
    r.id = detail::number<std::uint64_t>(detail::field(line, "id"), "id");
    r.user = detail::number<std::uint32_t>(detail::field(line, "user"), "user");
    const std::string_view amount = detail::field(line, "amount");
    const std::size_t dot = amount.find('.');
    if (dot == std::string_view::npos || amount.size() - dot != 3)
        throw std::invalid_argument("bad amount: '" + std::string(amount) + "'");
    r.cents = detail::number<std::int64_t>(amount.substr(0, dot), "amount") * 100 +
              detail::number<std::int64_t>(amount.substr(dot + 1), "amount");
    std::string_view tags = detail::field(line, "tags");
    while (!tags.empty()) {
        const std::size_t bar = tags.find('|');
        const std::string_view name = tags.substr(0, bar);
        bool known = false;
        for (std::size_t t = 0; t < std::size(tag_names); ++t) {
            if (tag_names[t] == name) {
                r.tags |= 1u << t;
                known = true;
            }
        }
        if (!known) throw std::invalid_argument("unknown tag: '" + std::string(name) + "'");
        tags.remove_prefix(bar == std::string_view::npos ? tags.size() : bar + 1);
    }
    return r;
}

/// Stage 2: computes the fee and a risk score. Idempotent: a record that is
/// already enriched only has its trip count bumped.
inline Record enrich(Record r) {
    ++r.trips;
    if (r.enriched) return r;
    const bool vip = (r.tags & (1u << 5)) != 0;
    r.fee_cents = vip ? r.cents / 200 : r.cents * 3 / 100 + 30;
    std::uint64_t h = mix(r.id ^ (std::uint64_t{r.user} << 32));
    for (int i = 0; i < 8; ++i) h = mix(h + static_cast<std::uint64_t>(r.cents));  // a little CPU work per record
    r.risk = static_cast<std::uint32_t>(h % 1000);
    r.enriched = true;
    return r;
}

/// Last stage: the bytes of one frame. Does not include `trips`, so a record
/// that went around a stage twice serializes the same as one that did not.
inline std::string serialize(const Record& r) {
    std::string s;
    s.reserve(48);
    s += std::to_string(r.id);
    s += ',';
    s += std::to_string(r.user);
    s += ',';
    s += std::to_string(r.cents);
    s += ',';
    s += std::to_string(r.fee_cents);
    s += ',';
    s += std::to_string(r.risk);
    s += ',';
    s += std::to_string(r.tags);
    return s;
}

/// Worker w's share [begin, end) of n items split into `workers` contiguous
/// blocks. Contiguous blocks plus (round, worker) order keep the input order,
/// whatever the worker count.
struct Block {
    std::size_t begin;
    std::size_t end;
};
inline Block block_of(std::size_t n, std::size_t workers, std::size_t w) noexcept {
    return Block{n * w / workers, n * (w + 1) / workers};
}

/// Parses a positive count from argv, or returns `fallback` when absent.
inline std::size_t arg_or(int argc, char** argv, int i, std::size_t fallback) {
    if (argc <= i) return fallback;
    const std::string_view text(argv[i]);
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v == 0)
        throw std::invalid_argument("argument " + std::to_string(i) + ": expected a positive integer, got '" + std::string(text) + "'");
    return v;
}

}  // namespace pipeline_example
