// The packet-demux example's parser (examples/packet_demux/packet.hpp) on malformed input: every datagram
// gets exactly one verdict, good packets round-trip, and nothing outside the datagram is ever read (the
// asan preset runs these cases with each datagram in its own exactly-sized heap block). Not a spec rule:
// this is the example's robustness contract ("bad packets are counted, never crash it", issue 7).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "../../examples/packet_demux/packet.hpp"

namespace {

using demux::parse_error;

constexpr demux::parse_limits kLimits{64, 1000};

std::vector<std::byte> payload_of(std::size_t n, unsigned seed = 1) {
  std::vector<std::byte> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((i * 31 + seed) & 0xFF);
  return p;
}

std::vector<std::byte> good_packet(std::uint16_t id, std::uint32_t seq, std::size_t payload_size) {
  std::vector<std::byte> out(demux::max_datagram);
  const auto payload = payload_of(payload_size, seq);
  const std::size_t n = demux::encode(out, id, seq, payload);
  out.resize(n);
  return out;
}

// A copy of a datagram in a heap block of exactly its size, so that ASan reports any read past its end.
class exact_copy {
 public:
  explicit exact_copy(std::span<const std::byte> bytes)
      : block_(std::make_unique<std::byte[]>(bytes.size() == 0 ? 1 : bytes.size())), size_(bytes.size()) {
    std::copy(bytes.begin(), bytes.end(), block_.get());
  }
  std::span<const std::byte> bytes() const { return {block_.get(), size_}; }

 private:
  std::unique_ptr<std::byte[]> block_;
  std::size_t size_;
};

demux::parse_error verdict(std::span<const std::byte> bytes, demux::parse_limits limits = kLimits) {
  const exact_copy copy(bytes);
  return demux::parse(copy.bytes(), limits).error;
}

TEST(PacketDemuxParse, GoodPacketRoundTrips) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, demux::max_payload}) {
    const auto d = good_packet(17, 999, n);
    ASSERT_EQ(d.size(), demux::header_size + n + demux::checksum_size);
    const auto r = demux::parse(d, kLimits);
    ASSERT_EQ(r.error, parse_error::none) << "payload " << n;
    EXPECT_EQ(r.id, 17);
    EXPECT_EQ(r.seq, 999u);
    ASSERT_EQ(r.payload.size(), n);
    EXPECT_EQ(r.payload.data(), d.data() + demux::header_size);  // a view, not a copy
    const auto expected = payload_of(n, 999);
    EXPECT_TRUE(std::equal(r.payload.begin(), r.payload.end(), expected.begin()));
  }
}

TEST(PacketDemuxParse, EncodeRefusesWhatDoesNotFit) {
  std::vector<std::byte> out(demux::max_datagram + 10);
  const auto too_long = payload_of(demux::max_payload + 1);
  EXPECT_EQ(demux::encode(out, 1, 1, too_long), 0u);
  std::vector<std::byte> small(demux::min_datagram + 3);
  EXPECT_EQ(demux::encode(small, 1, 1, payload_of(4)), 0u);
  EXPECT_EQ(demux::encode(small, 1, 1, payload_of(3)), small.size());
}

TEST(PacketDemuxParse, EveryTruncationIsTruncated) {
  const auto d = good_packet(3, 5, 40);
  for (std::size_t len = 0; len < d.size(); ++len) {
    EXPECT_EQ(verdict(std::span(d).first(len)), parse_error::truncated) << "length " << len;
  }
}

TEST(PacketDemuxParse, TrailingBytesAreBadLength) {
  auto d = good_packet(3, 5, 40);
  d.push_back(std::byte{0});
  EXPECT_EQ(verdict(d), parse_error::bad_length);
}

TEST(PacketDemuxParse, LengthFieldAboveMaximumIsBadLength) {
  // A header claiming 65535 payload bytes in a datagram of the maximal size must not be trusted.
  auto d = good_packet(3, 5, demux::max_payload);
  demux::wire::store16(d.data() + 6, 0xFFFF);
  EXPECT_EQ(verdict(d), parse_error::bad_length);
  demux::wire::store16(d.data() + 6, demux::max_payload + 1);
  EXPECT_EQ(verdict(d), parse_error::bad_length);
}

TEST(PacketDemuxParse, WrongMagicIsBadMagic) {
  for (std::size_t byte = 0; byte < 4; ++byte) {
    auto d = good_packet(3, 5, 8);
    d[byte] ^= std::byte{0x20};
    EXPECT_EQ(verdict(d), parse_error::bad_magic) << "byte " << byte;
  }
  // The magic is checked before the length, so an all-zero datagram of any size is bad_magic.
  std::vector<std::byte> zeros(demux::min_datagram + 8);
  EXPECT_EQ(verdict(zeros), parse_error::bad_magic);
}

TEST(PacketDemuxParse, EverySingleBitFlipIsRejected) {
  const auto good = good_packet(9, 77, 24);
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    auto d = good;
    d[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    const auto r = verdict(d);
    ASSERT_NE(r, parse_error::none) << "bit " << bit;
    if (bit / 8 < 4) {
      EXPECT_EQ(r, parse_error::bad_magic) << "bit " << bit;
    } else if (bit / 8 == 6 || bit / 8 == 7) {  // the length field
      EXPECT_TRUE(r == parse_error::truncated || r == parse_error::bad_length) << "bit " << bit;
    } else {  // id, seq, payload, checksum: the checksum catches it before the id or seq is trusted
      EXPECT_EQ(r, parse_error::bad_checksum) << "bit " << bit;
    }
  }
}

TEST(PacketDemuxParse, IdAndSeqLimitsAreExclusive) {
  EXPECT_EQ(verdict(good_packet(63, 0, 4)), parse_error::none);
  EXPECT_EQ(verdict(good_packet(64, 0, 4)), parse_error::id_out_of_range);
  EXPECT_EQ(verdict(good_packet(0xFFFF, 0, 4)), parse_error::id_out_of_range);
  EXPECT_EQ(verdict(good_packet(0, 999, 4)), parse_error::none);
  EXPECT_EQ(verdict(good_packet(0, 1000, 4)), parse_error::seq_out_of_range);
  EXPECT_EQ(verdict(good_packet(0, 0xFFFFFFFF, 4)), parse_error::seq_out_of_range);
  // Both out of range: the id is reported (documented order).
  EXPECT_EQ(verdict(good_packet(64, 1000, 4)), parse_error::id_out_of_range);
  EXPECT_EQ(verdict(good_packet(0, 0, 4), demux::parse_limits{0, 1}), parse_error::id_out_of_range);
}

// Random garbage and randomly damaged good packets: parse never reads outside the datagram (ASan), returns
// a payload view inside it when it accepts, and accepts only datagrams that re-encode to the same bytes.
TEST(PacketDemuxParse, RandomInputNeverEscapesTheDatagram) {
  std::mt19937 rng(20261124);
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kRounds = 20'000;
#else
  constexpr int kRounds = 100'000;
#endif
  std::uniform_int_distribution<std::size_t> size_of(0, demux::max_datagram + 8);
  std::uniform_int_distribution<int> byte_of(0, 255);
  int accepted = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::byte> d;
    if (round % 2 == 0) {
      d.resize(size_of(rng));
      for (auto& b : d) b = static_cast<std::byte>(byte_of(rng));
    } else {
      d = good_packet(static_cast<std::uint16_t>(rng() % 80), rng() % 1200, rng() % 64);
      const int damage = static_cast<int>(rng() % 3);  // 0: leave it, 1: overwrite a byte, 2: cut it
      if (damage == 1) d[rng() % d.size()] = static_cast<std::byte>(byte_of(rng));
      if (damage == 2) d.resize(rng() % d.size());
    }
    const exact_copy copy(d);
    const auto r = demux::parse(copy.bytes(), kLimits);
    if (r.error != parse_error::none) continue;
    ++accepted;
    const auto whole = copy.bytes();
    ASSERT_TRUE(r.payload.data() >= whole.data() &&
                r.payload.data() + r.payload.size() <= whole.data() + whole.size())
        << "round " << round << ": payload view outside the datagram";
    std::vector<std::byte> again(demux::max_datagram);
    again.resize(demux::encode(again, r.id, r.seq, r.payload));
    ASSERT_EQ(again, d) << "round " << round << ": accepted a datagram that is not a well-formed packet";
    ASSERT_LT(r.id, kLimits.ids);
    ASSERT_LT(r.seq, kLimits.seqs);
  }
  // Undamaged good packets in range are about 1/2 * 1/3 * (64/80) * (1000/1200) of the rounds: some must
  // pass.
  EXPECT_GT(accepted, kRounds / 20);
}

}  // namespace
