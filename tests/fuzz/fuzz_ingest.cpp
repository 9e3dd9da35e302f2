// Fuzzes the rating parsers: any bytes, in every format, strict and lenient. Besides
// "no crash, no sanitizer report", it checks that the whole-text parser and the chunked
// file reader (with a tiny block, so lines straddle blocks) agree: the same ratings, or
// the same error.
#include <cstdint>
#include <iterator>
#include <string_view>

#include "recflow/data/ingest.hpp"
#include "recflow/data/rating_reader.hpp"
#include "fuzz_util.hpp"

using namespace recflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1)
    return 0;
  // The first byte picks the options; the rest is the file.
  ingest_options opts;
  static constexpr input_format formats[] = {input_format::detect, input_format::ml100k,
                                             input_format::ml_csv, input_format::ml_dat,
                                             input_format::delimited, input_format::events};
  opts.format = formats[data[0] % std::size(formats)];
  opts.strict = (data[0] & 0x08) == 0;
  if (opts.format == input_format::delimited) {
    static const char* separators[] = {"", ",", "\t", " ", "::"};
    opts.separator = separators[(data[0] >> 4) % 5];
    opts.header = (data[0] & 0x80) != 0;
  }
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  rating_table whole;
  auto parsed = parse_ratings_into(text, fuzz::scratch_path("ingest"), opts, whole);
  if (parsed) {
    if (whole.ratings.size() != parsed->ratings)
      fuzz::fail("report counts differ from the table");
    for (const auto& r : whole.ratings)
      if (r.user >= whole.users.size() || r.item >= whole.items.size()
          || !whole.scale.contains(r.value))
        fuzz::fail("a parsed rating is out of its table's bounds or scale");
  }

  // The chunked reader on the same bytes, 64-byte blocks, batches of 3.
  const auto& path = fuzz::scratch_path("ingest");
  fuzz::write_file(path, data + 1, size - 1);
  auto reader = rating_reader::open(path, opts, 64);
  rating_table chunked;
  bool failed = !reader;
  if (reader) {
    std::vector<rating> batch;
    for (;;) {
      auto n = reader->next(3, chunked, batch);
      if (!n) {
        failed = true;
        break;
      }
      if (*n == 0)
        break;
    }
    if (!failed) {
      chunked.ratings = std::move(batch);
    }
  }
  if (failed != !parsed)
    fuzz::fail("parse_ratings_into and rating_reader disagree on success");
  if (parsed && chunked.ratings.size() != whole.ratings.size())
    fuzz::fail("parse_ratings_into and rating_reader read different rating counts");
  if (parsed)
    for (std::size_t k = 0; k < whole.ratings.size(); ++k) {
      const auto& a = whole.ratings[k];
      const auto& b = chunked.ratings[k];
      if (whole.users.external(a.user) != chunked.users.external(b.user)
          || whole.items.external(a.item) != chunked.items.external(b.item) || a.value != b.value
          || a.timestamp != b.timestamp)
        fuzz::fail("parse_ratings_into and rating_reader read different ratings");
    }
  return 0;
}
