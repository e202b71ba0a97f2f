// fan_in.cpp: composable N-to-1 collection, collection as a spout.
//
//     WorkerPool<std::string> -> FanInSpout -> BatchSpout -> FramedSpout<FdWriter> -> pipe -> reader thread
//
// The whole chain after the pool is one concrete type (no virtual calls);
// `fan.flush()` drains the published batches through it. A reader thread
// decodes the frames with read_frames and checks that every line arrived
// once, each worker's lines in the order it produced them.
//
// Usage: fan_in [workers=3] [rounds=200] [lines_per_worker=50, at most 256 so that a
// few uncollected rounds fit in the ring of 1024 and nothing overflows]
#include <spill/spill.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

std::string line(std::size_t worker, std::size_t round, std::size_t i) {
    std::string s = "worker ";
    s.append(std::to_string(worker)).append(" round ").append(std::to_string(round)).append(" line ").append(std::to_string(i));
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
    const long workers = arg(1, 3), rounds = arg(2, 200), lines = arg(3, 50);
    if (workers <= 0 || rounds <= 0 || lines <= 0 || lines > 256) {
        std::fprintf(stderr, "fan_in: usage: fan_in [workers>0] [rounds>0] [lines_per_worker in 1..256]\n");
        return 2;
    }
    int fds[2];
    if (::pipe(fds) != 0) return 2;

    // Reader: one frame per line; per worker, lines must come in production order.
    std::vector<std::size_t> next(static_cast<std::size_t>(workers), 0);  // next expected (round-1)*lines + i
    std::size_t frames = 0, out_of_order = 0;
    std::thread reader([&] {
        spill::read_frames(fds[0], [&](std::span<const std::byte> f) {
            const std::string s(reinterpret_cast<const char*>(f.data()), f.size());
            std::size_t w = 0, r = 0, i = 0;
            if (std::sscanf(s.c_str(), "worker %zu round %zu line %zu", &w, &r, &i) != 3 || w >= next.size()) {
                ++out_of_order;
                return;
            }
            const std::size_t pos = (r - 1) * static_cast<std::size_t>(lines) + i;
            if (pos != next[w]) ++out_of_order;
            next[w] = pos + 1;
            ++frames;
        });
    });

    {
        auto pool = spill::pool<std::string, 1024>(static_cast<std::size_t>(workers))
                        .spawn<std::size_t>([lines](auto& ring, std::size_t w, const std::size_t& round) {
                            for (long i = 0; i < lines; ++i) ring.push(line(w, round, static_cast<std::size_t>(i)));
                        });
        using Downstream = spill::BatchSpout<std::string, spill::FramedSpout<spill::FdWriter>>;
        auto fan = pool.fan_in(Downstream{64, spill::FramedSpout<spill::FdWriter>{spill::FdWriter{fds[1]}}});
        static_assert(!std::is_polymorphic_v<decltype(fan)>, "one monomorphised type, no virtual calls");

        for (long r = 1; r <= rounds; ++r) {
            pool.dispatch(static_cast<std::size_t>(r));
            fan.flush();  // streams what is published so far down the chain
            pool.join();
        }
        fan.flush();
        std::printf("fan_in: %llu frames written through pool -> FanInSpout -> BatchSpout -> FramedSpout<FdWriter>\n",
                    static_cast<unsigned long long>(fan.inner().inner().frames()));
    }  // the fan-in goes first, then the pool (a fan-in must not outlive its pool)
    ::close(fds[1]);
    reader.join();
    ::close(fds[0]);

    const std::size_t expected = static_cast<std::size_t>(workers * rounds * lines);
    std::printf("fan_in: reader decoded %zu of %zu frames, %zu out of order\n", frames, expected, out_of_order);
    return frames == expected && out_of_order == 0 ? 0 : 1;
}
