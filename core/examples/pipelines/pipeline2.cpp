// pipeline2.cpp: a two-stage parallel pipeline (multi-stage pipelines).
//
//     raw text lines
//       -> stage 1: WorkerPool (W1 workers) parses lines into Records
//       -> SequencedFanIn -> SequencedSpout -> CollectSpout   (round input of stage 2)
//       -> stage 2: WorkerPool (W2 workers) enriches and serializes Records
//       -> SequencedFanIn -> SequencedSpout -> FramedSpout<FdWriter> -> pipe
//       -> reader thread: read_frames, compared with a single-threaded replay
//
// The stages overlap: while stage 2 works on round r, stage 1 parses round
// r + 1. Each worker takes a contiguous block of its round's input, and both
// stages collect through the sequenced path, so the bytes on the pipe are in
// input order whatever W1 and W2 are: the reader checks every frame against
// serialize(enrich(parse(make_line(i)))) for i = 0, 1, 2, ...
//
// Usage: pipeline2 [W1=2] [W2=2] [rounds=1000] [records_per_round=256]
// Exit status 0 only if every record arrived exactly once, in order.
#include <spill/spill.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "records.hpp"

namespace {

using namespace pipeline_example;

constexpr std::size_t ring_capacity = 4096;  // per worker per round; checked against the arguments

struct Options {
    std::size_t w1, w2, rounds, records;
};

std::vector<std::string> make_chunk(std::uint64_t round, std::size_t records) {
    std::vector<std::string> lines;
    lines.reserve(records);
    for (std::size_t i = 0; i < records; ++i) lines.push_back(make_line(round * records + i));
    return lines;
}

// What the reader found on its end of the pipe.
struct ReadResult {
    std::uint64_t frames = 0;
    std::uint64_t mismatches = 0;
    std::string first_mismatch;
    std::string error;
};

// Reads every frame and compares frame i with the single-threaded replay of record i.
void read_and_verify(int fd, ReadResult& res) {
    try {
        std::uint64_t next = 0;
        res.frames = spill::read_frames(fd, [&](std::span<const std::byte> frame) {
            const std::string got(reinterpret_cast<const char*>(frame.data()), frame.size());
            const std::string want = serialize(enrich(parse(make_line(next))));
            if (got != want && res.mismatches++ == 0)
                res.first_mismatch = "frame " + std::to_string(next) + ": got '" + got + "', want '" + want + "'";
            ++next;
        });
    } catch (const std::exception& e) {
        res.error = e.what();
        // Keep reading to EOF so that the writer never blocks on a full pipe.
        char sink[4096];
        while (::read(fd, sink, sizeof sink) > 0) {
        }
    }
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

int run(const Options& opt) {
    int fds[2];
    if (::pipe(fds) != 0) {
        std::perror("pipe");
        return 1;
    }
    Fd read_end{fds[0]};
    ReadResult result;
    std::jthread reader([&] { read_and_verify(read_end.fd, result); });
    Fd write_end{fds[1]};  // declared after the reader: closed first, so the reader always ends

    // Stage 1: text -> Record. Overflow is counted (it must stay 0: each
    // worker's block fits its ring, and each round is collected before the next).
    const std::size_t w1 = opt.w1;
    auto stage1 = spill::pool<Record, ring_capacity>(w1)
                      .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                      .spawn<std::vector<std::string>>([w1](auto& ring, std::size_t w, const std::vector<std::string>& lines) {
                          const Block b = block_of(lines.size(), w1, w);
                          for (std::size_t i = b.begin; i < b.end; ++i) ring.push(parse(lines[i]));
                      });
    using Parsed = spill::SequencedSpout<Record, spill::CollectSpout<Record>>;
    auto fan1 = stage1.sequenced_fan_in(Parsed{spill::CollectSpout<Record>{opt.records}});

    // Stage 2: Record -> enriched, serialized frame payload.
    const std::size_t w2 = opt.w2;
    auto stage2 = spill::pool<std::string, ring_capacity>(w2)
                      .overflow([](std::size_t) { return spill::CountingSpout<>{}; })
                      .spawn<std::vector<Record>>([w2](auto& ring, std::size_t w, const std::vector<Record>& records) {
                          const Block b = block_of(records.size(), w2, w);
                          for (std::size_t i = b.begin; i < b.end; ++i) ring.push(serialize(enrich(records[i])));
                      });
    using Output = spill::SequencedSpout<std::string, spill::FramedSpout<spill::FdWriter>>;
    auto out = stage2.sequenced_fan_in(Output{spill::FramedSpout<spill::FdWriter>{spill::FdWriter{write_end.fd}}});

    const auto t0 = std::chrono::steady_clock::now();
    stage1.dispatch(make_chunk(0, opt.records));
    for (std::uint64_t r = 0; r < opt.rounds; ++r) {
        stage1.join();  // round r parsed
        fan1.collect();
        std::vector<Record> parsed = fan1.inner().inner().take();
        stage2.join();  // round r - 1 transformed
        out.collect();
        stage2.dispatch(std::move(parsed));                                     // stage 2: round r ...
        if (r + 1 < opt.rounds) stage1.dispatch(make_chunk(r + 1, opt.records));  // ... while stage 1 parses r + 1
        out.collect();  // streaming: whatever stage 2 has published (partial rounds are held back)
    }
    stage2.join();
    out.flush();  // collect the rest, write the last frames
    const auto t1 = std::chrono::steady_clock::now();
    write_end.close();
    reader.join();

    std::uint64_t overflowed = 0;
    for (std::size_t w = 0; w < w1; ++w) overflowed += stage1.overflow(w).count();
    for (std::size_t w = 0; w < w2; ++w) overflowed += stage2.overflow(w).count();

    const std::uint64_t expected = opt.rounds * opt.records;
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("pipeline2: W1=%zu W2=%zu rounds=%zu records/round=%zu\n", w1, w2, opt.rounds, opt.records);
    std::printf("  frames written %llu, read back %llu, expected %llu, overflowed %llu, out-of-window batches %llu\n",
                static_cast<unsigned long long>(out.inner().inner().frames()), static_cast<unsigned long long>(result.frames),
                static_cast<unsigned long long>(expected), static_cast<unsigned long long>(overflowed),
                static_cast<unsigned long long>(out.inner().stats().window_overflows));
    std::printf("  %.3f s, %.0f records/s\n", secs, static_cast<double>(expected) / secs);

    bool ok = true;
    auto fail = [&](const std::string& why) {
        std::fprintf(stderr, "pipeline2: FAILED: %s\n", why.c_str());
        ok = false;
    };
    if (!result.error.empty()) fail("reading the frames: " + result.error);
    if (result.frames != expected) fail("read " + std::to_string(result.frames) + " frames, expected " + std::to_string(expected));
    if (result.mismatches != 0) fail(std::to_string(result.mismatches) + " frames differ from the replay; first: " + result.first_mismatch);
    if (overflowed != 0) fail(std::to_string(overflowed) + " records overflowed");
    if (fan1.inner().pending() != 0 || out.inner().pending() != 0) fail("batches still waiting in a SequencedSpout");
    if (ok) std::printf("  OK: every record exactly once, in input order\n");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options opt{arg_or(argc, argv, 1, 2), arg_or(argc, argv, 2, 2), arg_or(argc, argv, 3, 1000), arg_or(argc, argv, 4, 256)};
        if (opt.records > ring_capacity) {
            std::fprintf(stderr, "pipeline2: records_per_round %zu exceeds the ring capacity %zu\n", opt.records, ring_capacity);
            return 2;
        }
        return run(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipeline2: %s\n", e.what());
        return 1;
    }
}
