// spill/framed.hpp: length-prefixed frames on a byte stream, and their decoder.
//
// Wire format, one frame per item: a 4-byte little-endian payload length, then
// the payload bytes. The decoder never reads past the bytes it was given and
// rejects a length above its limit before buffering anything for it.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <unistd.h>

namespace spill {

/// Thrown by `FrameDecoder` for a malformed stream (length over the limit,
/// stream ending inside a frame). The message gives the byte offset.
///
///     try { spill::read_frames(fd, on_frame); }
///     catch (const spill::FrameError& e) { std::fprintf(stderr, "bad stream: %s\n", e.what()); }
class FrameError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Writes bytes to a file descriptor it does not own (a pipe, a socket, a
/// file), retrying partial writes and EINTR.
///
///     spill::FdWriter w{STDOUT_FILENO};
class FdWriter {
public:
    explicit FdWriter(int fd) noexcept : fd_(fd) {}
    void write(std::span<const std::byte> bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                throw std::system_error(errno, std::generic_category(), "FdWriter: write to fd " + std::to_string(fd_));
            }
            bytes = bytes.subspan(static_cast<std::size_t>(n));
        }
    }
    void flush() noexcept {}
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    int fd_;
};

/// Writes bytes to a `std::ostream` it does not own.
///
///     std::ostringstream os;
///     spill::OstreamWriter w{os};
class OstreamWriter {
public:
    explicit OstreamWriter(std::ostream& os) noexcept : os_(&os) {}
    void write(std::span<const std::byte> bytes) {
        os_->write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!*os_) throw std::runtime_error("OstreamWriter: stream write failed");
    }
    void flush() {
        os_->flush();
        if (!*os_) throw std::runtime_error("OstreamWriter: stream flush failed");
    }

private:
    std::ostream* os_;
};

/// A contiguous range of byte-sized elements: std::string, std::vector<std::byte>,
/// std::vector<std::uint8_t>, std::span<const char>...
template <class T>
concept ByteBuffer = std::ranges::contiguous_range<T> && std::ranges::sized_range<T> &&
                     sizeof(std::ranges::range_value_t<T>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<T>>;

/// Frames each item (a byte buffer) as length + payload into a writer. Frames
/// are gathered in a buffer and written when it passes `buffer_bytes` or on
/// `flush()`, so a stream of small items costs few system calls.
///
///     int fds[2]; pipe(fds);
///     spill::FramedSpout<spill::FdWriter> out{spill::FdWriter{fds[1]}};
///     out.send(std::string("hello"));
///     out.flush();
template <class Writer>
class FramedSpout {
public:
    explicit FramedSpout(Writer writer, std::size_t buffer_bytes = 64 * 1024)
        : writer_(std::move(writer)), limit_(buffer_bytes) {
        buffer_.reserve(limit_ + 4);
    }

    template <ByteBuffer B>
    void send(B&& item) {
        const auto size = static_cast<std::size_t>(std::ranges::size(item));
        if (size > UINT32_MAX) throw std::length_error("FramedSpout: item of " + std::to_string(size) + " bytes does not fit a 4-byte length");
        const auto n = static_cast<std::uint32_t>(size);
        const std::byte header[4] = {std::byte(n & 0xffu), std::byte((n >> 8) & 0xffu), std::byte((n >> 16) & 0xffu),
                                     std::byte((n >> 24) & 0xffu)};
        const auto* payload = reinterpret_cast<const std::byte*>(std::ranges::data(item));
        buffer_.insert(buffer_.end(), header, header + 4);
        buffer_.insert(buffer_.end(), payload, payload + size);
        ++frames_;
        if (buffer_.size() >= limit_) write_buffer();
    }
    /// A batch of byte buffers (what a BatchSpout of strings hands over):
    /// one frame per element, in order, so `BatchSpout<std::string,
    /// FramedSpout<W>>` composes and the reader still sees one frame per item.
    ///
    ///     spill::BatchSpout<std::string, spill::FramedSpout<spill::FdWriter>> out{64, spill::FramedSpout{spill::FdWriter{fd}}};
    template <std::ranges::input_range R>
        requires(!ByteBuffer<R> && ByteBuffer<std::ranges::range_value_t<R>>)
    void send(R&& batch) {
        for (auto&& item : batch) send(item);
    }
    void flush() {
        write_buffer();
        writer_.flush();
    }

    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] Writer& writer() noexcept { return writer_; }

private:
    void write_buffer() {
        if (buffer_.empty()) return;
        writer_.write(buffer_);
        buffer_.clear();
    }

    Writer writer_;
    std::size_t limit_;
    std::vector<std::byte> buffer_;
    std::uint64_t frames_ = 0;
};

/// Incremental decoder for FramedSpout's format. Feed it bytes as they arrive;
/// it calls `on_frame(std::span<const std::byte>)` for each complete frame.
///
///     spill::FrameDecoder dec;
///     dec.feed(bytes, [](std::span<const std::byte> f) { ... });
///     dec.finish();   // throws FrameError if the stream stopped inside a frame
class FrameDecoder {
public:
    /// Frames longer than `max_frame_bytes` are rejected as malformed.
    explicit FrameDecoder(std::size_t max_frame_bytes = 16u << 20) : max_(max_frame_bytes) {}

    template <class OnFrame>
    void feed(std::span<const std::byte> bytes, OnFrame&& on_frame) {
        while (!bytes.empty()) {
            if (need_header()) {
                const std::size_t take = std::min<std::size_t>(4 - header_len_, bytes.size());
                std::memcpy(header_ + header_len_, bytes.data(), take);
                header_len_ += take;
                bytes = bytes.subspan(take);
                if (header_len_ < 4) return;
                expected_ = std::to_integer<std::uint32_t>(header_[0]) | (std::to_integer<std::uint32_t>(header_[1]) << 8) |
                            (std::to_integer<std::uint32_t>(header_[2]) << 16) |
                            (std::to_integer<std::uint32_t>(header_[3]) << 24);
                if (expected_ > max_) {
                    throw FrameError("frame length " + std::to_string(expected_) + " exceeds the limit of " +
                                     std::to_string(max_) + " bytes (offset " + std::to_string(offset_) + ")");
                }
                payload_.clear();
            }
            const std::size_t take = std::min<std::size_t>(expected_ - payload_.size(), bytes.size());
            // A whole frame already in `bytes`: hand it over without copying.
            if (payload_.empty() && take == expected_) {
                on_frame(bytes.first(take));
            } else {
                payload_.insert(payload_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
                if (payload_.size() == expected_) on_frame(std::span<const std::byte>(payload_));
            }
            bytes = bytes.subspan(take);
            if (take == expected_ || payload_.size() == expected_) {
                offset_ += 4 + expected_;
                ++frames_;
                header_len_ = 0;
                payload_.clear();
            } else {
                return;
            }
        }
    }

    /// Declares the end of the stream: throws FrameError if it ended mid-frame.
    void finish() const {
        if (header_len_ == 0) return;
        if (header_len_ < 4)
            throw FrameError("truncated frame header: " + std::to_string(header_len_) + " of 4 bytes at offset " + std::to_string(offset_));
        throw FrameError("truncated frame: " + std::to_string(payload_.size()) + " of " + std::to_string(expected_) +
                         " payload bytes at offset " + std::to_string(offset_));
    }

    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }

private:
    [[nodiscard]] bool need_header() const noexcept { return header_len_ < 4; }

    std::size_t max_;
    std::byte header_[4]{};
    std::size_t header_len_ = 0;
    std::uint32_t expected_ = 0;
    std::vector<std::byte> payload_;
    std::uint64_t offset_ = 0;
    std::uint64_t frames_ = 0;
};

/// Reads a whole stream from `fd` until EOF, calling `on_frame` per frame.
/// Throws FrameError on a malformed stream, std::system_error on a read error.
template <class OnFrame>
std::uint64_t read_frames(int fd, OnFrame&& on_frame, std::size_t max_frame_bytes = 16u << 20) {
    FrameDecoder dec(max_frame_bytes);
    std::byte chunk[16 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read_frames: read from fd " + std::to_string(fd));
        }
        if (n == 0) break;
        dec.feed(std::span<const std::byte>(chunk, static_cast<std::size_t>(n)), on_frame);
    }
    dec.finish();
    return dec.frames();
}

}  // namespace spill
