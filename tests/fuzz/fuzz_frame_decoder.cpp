// libFuzzer target: FrameDecoder on arbitrary bytes.
//
// The input picks a frame-size limit and a chunking, then the rest is the
// stream. Each chunk is fed from its own exactly-sized heap buffer, so any
// read past the bytes given is an AddressSanitizer report. The decoder must
// either decode frames or throw FrameError (never anything else); the frames
// it decoded, re-encoded by FramedSpout, must be exactly the prefix of the
// stream they came from; and a stream that decodes without error and
// finishes cleanly must round-trip byte for byte. The decoder's buffer never
// exceeds the limit, and once it threw, it refuses every further byte
// (FrameError, no frame, no buffering) until reset().
#include <spill/framed.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
    __builtin_fprintf(stderr, "frame_decoder fuzz: %s\n", what);
    std::abort();
}
void expect(bool ok, const char* what) {
    if (!ok) fail(what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t limit = (data[0] % 2 == 0) ? static_cast<std::size_t>(data[0]) * 4 : (16u << 20);
    const std::size_t chunk = 1 + data[1] % 17;
    const std::uint8_t* stream = data + 2;
    const std::size_t len = size - 2;

    spill::FrameDecoder dec(limit);
    std::vector<std::string> frames;
    const auto on_frame = [&](std::span<const std::byte> f) {
        expect(f.size() <= limit, "a frame over the limit was delivered");
        frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
    };
    bool error = false, feed_error = true;  // feed_error: the error came from feed(), not finish()
    std::size_t fed = 0;
    try {
        while (fed < len) {
            const std::size_t n = len - fed < chunk ? len - fed : chunk;
            std::vector<std::byte> buf(n);  // exactly n bytes: an over-read is caught
            std::memcpy(buf.data(), stream + fed, n);
            fed += n;
            dec.feed(std::span<const std::byte>(buf), on_frame);
            expect(dec.buffer_capacity() <= limit, "the decoder buffered past its limit");
        }
        feed_error = false;
        dec.finish();
    } catch (const spill::FrameError&) {
        error = true;
    }
    expect(dec.frames() == frames.size(), "frames() count");
    expect(dec.buffer_capacity() <= limit, "the decoder buffered past its limit");
    expect(dec.failed() == (error && feed_error), "failed() disagrees with the error from feed()");
    if (error && feed_error) {
        // Failed: the rest of the stream (or any bytes) is refused, untouched.
        const std::size_t capacity = dec.buffer_capacity();
        const std::size_t before = frames.size();
        std::vector<std::byte> rest(len - fed + 1, std::byte{0});
        if (len != fed) std::memcpy(rest.data(), stream + fed, len - fed);
        bool refused = false;
        try {
            dec.feed(std::span<const std::byte>(rest), on_frame);
        } catch (const spill::FrameError&) {
            refused = true;
        }
        expect(refused && frames.size() == before && dec.buffer_capacity() == capacity, "a failed decoder took more input");
    }

    // Re-encode what was decoded: it must be a prefix of the stream.
    std::ostringstream os;
    {
        spill::FramedSpout<spill::OstreamWriter> out{spill::OstreamWriter{os}, 64};
        for (const auto& f : frames) out.send(f);
        out.flush();
    }
    const std::string enc = os.str();
    expect(enc.size() <= len && std::memcmp(enc.data(), stream, enc.size()) == 0,
           "decoded frames are not a prefix of the stream");
    if (!error) expect(enc.size() == len, "a clean decode did not round-trip the whole stream");
    return 0;
}
