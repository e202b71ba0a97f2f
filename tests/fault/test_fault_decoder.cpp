// Fault injection on the reading side: FrameDecoder fed a valid stream split
// at every byte boundary, and a stream corrupted at every byte. The encoding
// here is written out by hand (not by FramedSpout), so the decoder is checked
// against an independent statement of the format. Every allocation the
// decoder makes is watched: none may exceed its frame limit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fault_util.hpp"
#include "alloc_counter.hpp"
#include "spill/framed.hpp"

// ---- the largest allocation, watched -------------------------------------------------

namespace {
// relaxed: a running maximum, read on the thread that allocated
std::atomic<std::size_t> largest_allocation{0};
void watch(std::size_t n) {
    std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
    }
}
const bool watching = (spill::test::set_alloc_hook(&watch), true);  // before main
}  // namespace

namespace {

using Frames = std::vector<std::string>;

/// Payloads of many sizes, 0 included, with bytes that depend on position.
Frames sample_frames() {
    std::vector<std::size_t> sizes{0, 1, 2, 3, 4, 5, 0, 7, 8, 13, 31, 64, 100, 255, 256, 300};
    if (spill::fault::full_scale()) sizes.insert(sizes.end(), {511, 512, 0, 1000});
    Frames out;
    for (std::size_t f = 0; f < sizes.size(); ++f) {
        std::string s(sizes[f], '\0');
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((f * 31 + i * 7) & 0xff);
        out.push_back(s);
    }
    return out;
}

/// The wire format by hand: 4-byte little-endian length, then the payload.
/// `starts` receives each frame's offset.
std::vector<std::byte> encode(const Frames& frames, std::vector<std::size_t>* starts = nullptr) {
    std::vector<std::byte> w;
    for (const auto& f : frames) {
        if (starts) starts->push_back(w.size());
        const auto n = static_cast<std::uint32_t>(f.size());
        for (int b = 0; b < 4; ++b) w.push_back(static_cast<std::byte>((n >> (8 * b)) & 0xffu));
        for (char c : f) w.push_back(static_cast<std::byte>(c));
    }
    return w;
}

struct Decoded {
    Frames frames;
    bool error = false;
    std::string message;
    std::size_t max_capacity = 0;    // decoder buffer, after every feed
    std::size_t max_allocation = 0;  // largest single allocation while feeding
};

/// Feeds `wire` in pieces ending at `cuts` (ascending, within the wire), then finishes.
Decoded decode(std::span<const std::byte> wire, const std::vector<std::size_t>& cuts, std::size_t limit) {
    Decoded d;
    d.frames.reserve(wire.size() / 4 + 1);  // the test's own vector does not grow while allocations are watched
    spill::FrameDecoder dec(limit);
    std::size_t from = 0;
    try {
        for (std::size_t i = 0; i <= cuts.size(); ++i) {
            const std::size_t to = i < cuts.size() ? cuts[i] : wire.size();
            largest_allocation.store(0, std::memory_order_relaxed);
            dec.feed(wire.subspan(from, to - from), [&](std::span<const std::byte> f) {
                d.frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
            });
            d.max_allocation = std::max(d.max_allocation, largest_allocation.load(std::memory_order_relaxed));
            d.max_capacity = std::max(d.max_capacity, dec.buffer_capacity());
            from = to;
        }
        dec.finish();
    } catch (const spill::FrameError& e) {
        d.error = true;
        d.message = e.what();
        d.max_capacity = std::max(d.max_capacity, dec.buffer_capacity());
    }
    return d;
}

std::vector<std::size_t> every(std::size_t step, std::size_t len) {
    std::vector<std::size_t> cuts;
    for (std::size_t c = step; c < len; c += step) cuts.push_back(c);
    return cuts;
}

/// Frames whose allocations the test itself makes (the strings it collects)
/// are bounded by the largest frame; the decoder's own by its limit.
std::size_t largest(const Frames& frames) {
    std::size_t m = 0;
    for (const auto& f : frames) m = std::max(m, f.size());
    return m;
}

}  // namespace

TEST_CASE("fault: frame_decoder decodes a valid stream split at every byte boundary to the same frames", "[fault][decoder]") {
    const Frames want = sample_frames();
    const auto wire = encode(want);
    const std::size_t biggest = largest(want);
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        CAPTURE(cut);
        const Decoded d = decode(wire, {cut}, 1024);
        REQUIRE_FALSE(d.error);
        REQUIRE(d.frames == want);
        REQUIRE(d.max_capacity <= biggest);
    }
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{5}, std::size_t{257}}) {
        CAPTURE(step);
        const Decoded d = decode(wire, every(step, wire.size()), 1024);
        REQUIRE_FALSE(d.error);
        REQUIRE(d.frames == want);
        REQUIRE(d.max_capacity <= biggest);
    }
    if (spill::fault::full_scale()) {
        // Every split into three pieces of a shorter stream.
        const Frames few(want.begin(), want.begin() + 10);
        const auto w = encode(few);
        for (std::size_t a = 0; a <= w.size(); ++a)
            for (std::size_t b = a; b <= w.size(); ++b) REQUIRE(decode(w, {a, b}, 1024).frames == few);
    }
}

TEST_CASE("fault: frame_decoder rejects a stream corrupted at any byte, or decodes exactly what the bytes say, never allocating past its limit",
          "[fault][decoder]") {
    const Frames want = sample_frames();
    std::vector<std::size_t> starts;
    const auto wire = encode(want, &starts);
    const std::size_t limit = largest(want) + 84;  // above every sample frame; a corrupt length mostly is not
    for (std::size_t pos = 0; pos < wire.size(); ++pos) {
        const std::size_t f = static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), pos) - starts.begin()) - 1;
        const bool in_header = pos - starts[f] < 4;
        for (unsigned mask : {0xffu, 0x01u, 0x80u, 0x10u}) {
            CAPTURE(pos, mask, f, in_header);
            auto bad = wire;
            bad[pos] ^= static_cast<std::byte>(mask);
            for (std::size_t step : {std::size_t{7}, bad.size()}) {
                CAPTURE(step);
                const Decoded d = decode(bad, every(step, bad.size()), limit);
                REQUIRE(d.max_capacity <= limit);
                REQUIRE(d.max_allocation <= std::max(limit, largest(d.frames) + 1));  // + 1: the test's own strings
                if (!in_header) {
                    // A payload byte: the same frames, that byte changed.
                    Frames changed = want;
                    changed[f][pos - starts[f] - 4] = static_cast<char>(changed[f][pos - starts[f] - 4] ^ static_cast<char>(mask));
                    REQUIRE_FALSE(d.error);
                    REQUIRE(d.frames == changed);
                    continue;
                }
                // A length byte: the frames before it decode as sent; then an
                // error, or frames that re-encode to exactly the corrupt bytes.
                REQUIRE(d.frames.size() >= f);
                REQUIRE(Frames(d.frames.begin(), d.frames.begin() + static_cast<std::ptrdiff_t>(f)) == Frames(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(f)));
                std::uint32_t length = 0;
                for (int b = 0; b < 4; ++b) length |= std::to_integer<std::uint32_t>(bad[starts[f] + static_cast<std::size_t>(b)]) << (8 * b);
                if (length > limit) {
                    REQUIRE(d.error);
                    REQUIRE_THAT(d.message, Catch::Contains("exceeds the limit") && Catch::Contains("offset " + std::to_string(starts[f]) + ")"));
                    REQUIRE(d.frames.size() == f);
                } else if (!d.error) {
                    REQUIRE(encode(d.frames) == bad);
                }
            }
        }
    }
}

TEST_CASE("fault: frame_decoder, once it rejected a length, takes no more input and allocates nothing for it until reset",
          "[fault][decoder]") {
    // The defect this guards against: the rejected length stayed, and the
    // next input was buffered up to it (32 MiB against a 16 MiB limit).
    spill::FrameDecoder dec;  // limit 16 MiB
    const std::uint32_t huge = 32u << 20;
    std::vector<std::byte> header;
    for (int b = 0; b < 4; ++b) header.push_back(static_cast<std::byte>((huge >> (8 * b)) & 0xffu));
    std::size_t frames = 0;
    const auto count = [&](std::span<const std::byte>) { ++frames; };
    REQUIRE_THROWS_WITH(dec.feed(header, count), Catch::Contains("exceeds the limit"));
    REQUIRE(dec.failed());
    const std::vector<std::byte> chunk(64 * 1024, std::byte{0x41});
    for (int i = 0; i < 16; ++i) {
        largest_allocation.store(0, std::memory_order_relaxed);
        REQUIRE_THROWS_WITH(dec.feed(chunk, count), Catch::Contains("no more input until reset()"));
        REQUIRE(largest_allocation.load(std::memory_order_relaxed) <= 4096);  // the exception's message, nothing for the frame
        REQUIRE(dec.buffer_capacity() == 0);
    }
    REQUIRE_THROWS_AS(dec.finish(), spill::FrameError);
    REQUIRE(frames == 0);

    dec.reset();
    REQUIRE_FALSE(dec.failed());
    const Frames want = sample_frames();
    const auto wire = encode(want);
    Frames got;
    dec.feed(wire, [&](std::span<const std::byte> f) { got.emplace_back(reinterpret_cast<const char*>(f.data()), f.size()); });
    dec.finish();
    REQUIRE(got == want);
    REQUIRE(dec.frames() == want.size());
}

TEST_CASE("fault: frame_decoder gathering a long frame in small pieces grows its buffer up to the frame's length, no further",
          "[fault][decoder]") {
    const std::string payload(100'003, 'p');
    const auto wire = encode(Frames{payload});
    spill::FrameDecoder dec(200'000);
    std::size_t delivered = 0;
    for (std::size_t from = 0; from < wire.size(); from += 4093) {
        const std::size_t n = std::min<std::size_t>(4093, wire.size() - from);
        dec.feed(std::span<const std::byte>(wire).subspan(from, n), [&](std::span<const std::byte> f) { delivered = f.size(); });
        REQUIRE(dec.buffer_capacity() <= payload.size());
    }
    dec.finish();
    REQUIRE(delivered == payload.size());
}

TEST_CASE("fault: frame_decoder stops at an exception from the frame callback and refuses input until reset", "[fault][decoder]") {
    const Frames want = sample_frames();
    const auto wire = encode(want);
    spill::FrameDecoder dec;
    std::size_t calls = 0;
    REQUIRE_THROWS_AS(dec.feed(wire,
                               [&](std::span<const std::byte>) {
                                   if (++calls == 3) throw spill::test::SpoutFailure();
                               }),
                      spill::test::SpoutFailure);
    REQUIRE(dec.failed());
    REQUIRE_THROWS_AS(dec.feed(wire, [](std::span<const std::byte>) {}), spill::FrameError);
    dec.reset();
    std::size_t frames = 0;
    dec.feed(wire, [&](std::span<const std::byte>) { ++frames; });
    dec.finish();
    REQUIRE(frames == want.size());
}
