#include "cli/data_options.hpp"

#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <sstream>

#include "recflow/model/split.hpp"

namespace recflow::cli {

namespace fs = std::filesystem;

void data_options::add_to(CLI::App& app) {
  app.add_option("--train", train, "Rating file to train on (use with --test)");
  app.add_option("--test", test, "Rating file to evaluate on (use with --train)");
  app.add_option("--data", data,
                 "One rating file to split into train and test (see --split); default: "
                 "ml-100k/u.data under $RECFLOW_DATA, ./data or ../shared/data");
  app.add_option("--split", split, "Fraction of --data used for training")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the split, the initial factors and the order")
    ->capture_default_str();
  app.add_option("--format", format, "detect, ml100k, ml-csv, ml-dat, delimited or events")
    ->capture_default_str();
  app.add_option("--separator", separator, "Field separator of a delimited file (e.g. ',' or '::')");
  app.add_flag("--header", header, "A delimited file starts with a header line");
  app.add_option("--columns", columns,
                 "Zero-based columns user,item,rating[,timestamp] of a delimited file");
  app.add_option("--scale", scale, "Valid ratings MIN:MAX (default: the format's own)");
  app.add_flag("--lenient", lenient, "Skip and count bad lines instead of stopping at the first");
}

result<ingest_options> make_ingest_options(const data_options& opts) {
  ingest_options io;
  auto fmt = parse_input_format(opts.format);
  if (!fmt)
    return error{errc::invalid_argument, "unknown --format '" + opts.format
                                           + "' (detect, ml100k, ml-csv, ml-dat, delimited, events)"};
  io.format = *fmt;
  // Column order and a header only mean something for a delimited file: asking for
  // them says the file is one.
  if (io.format == input_format::detect && (!opts.columns.empty() || opts.header))
    io.format = input_format::delimited;
  io.separator = opts.separator;
  io.header = opts.header;
  io.strict = !opts.lenient;
  if (!opts.columns.empty()) {
    std::vector<int> cols;
    std::stringstream in(opts.columns);
    std::string part;
    while (std::getline(in, part, ',')) {
      try {
        cols.push_back(std::stoi(part));
      } catch (...) {
        return error{errc::invalid_argument, "--columns wants numbers like 0,1,2,3, got '"
                                               + opts.columns + "'"};
      }
    }
    if (cols.size() < 3 || cols.size() > 4)
      return error{errc::invalid_argument, "--columns wants 3 or 4 numbers, got '"
                                             + opts.columns + "'"};
    io.user_column = cols[0];
    io.item_column = cols[1];
    io.rating_column = cols[2];
    io.timestamp_column = cols.size() == 4 ? cols[3] : -1;
  }
  if (!opts.scale.empty()) {
    auto colon = opts.scale.find(':');
    try {
      if (colon == std::string::npos)
        throw std::invalid_argument("no colon");
      rating_scale s{std::stod(opts.scale.substr(0, colon)), std::stod(opts.scale.substr(colon + 1))};
      if (!(s.min < s.max))
        throw std::invalid_argument("empty");
      io.scale = s;
    } catch (...) {
      return error{errc::invalid_argument, "--scale wants MIN:MAX with MIN < MAX, got '"
                                             + opts.scale + "'"};
    }
  }
  return io;
}

namespace {

/// The default data set, or an error saying how to get one.
result<std::string> default_data_file() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("RECFLOW_DATA"); env && *env)
    dirs.emplace_back(env);
  dirs.emplace_back("data");
  dirs.emplace_back("../shared/data");
  for (const auto& d : dirs) {
    auto f = d / "ml-100k" / "u.data";
    std::error_code ec;
    if (fs::is_regular_file(f, ec))
      return f.string();
  }
  return error{errc::not_found,
               "no rating data given and none found: pass --data FILE (or --train FILE "
               "--test FILE), or set RECFLOW_DATA to a folder holding ml-100k/u.data. "
               "To download MovieLens from GroupLens: tools/download-data.sh data"};
}

}  // namespace

result<std::string> data_file(const data_options& opts) {
  return opts.data.empty() ? default_data_file() : result<std::string>(opts.data);
}

namespace {

/// Reads and splits the data (load_data without the report on stderr).
result<loaded_data> read_data(const data_options& opts) {
  auto io = make_ingest_options(opts);
  if (!io)
    return io.err();
  if (!opts.train.empty() != !opts.test.empty())
    return error{errc::invalid_argument, "--train and --test go together"};
  if (!opts.train.empty() && !opts.data.empty())
    return error{errc::invalid_argument, "give either --train/--test or --data, not both"};
  loaded_data out;
  rating_table all;
  if (!opts.train.empty()) {
    auto tr = read_ratings_into(opts.train, *io, all);
    if (!tr)
      return tr.err();
    auto n_train = all.ratings.size();
    auto te = read_ratings_into(opts.test, *io, all);
    if (!te)
      return te.err();
    out.skipped = tr->skipped + te->skipped;
    std::vector<rating> test(all.ratings.begin() + static_cast<std::ptrdiff_t>(n_train),
                             all.ratings.end());
    all.ratings.resize(n_train);
    out.test = all.with_ratings(std::move(test));
    out.train = std::move(all);
    out.source = opts.train + " + " + opts.test;
    return out;
  }
  std::string file = opts.data;
  if (file.empty()) {
    auto def = default_data_file();
    if (!def)
      return def.err();
    file = *def;
  }
  auto rep = read_ratings_into(file, *io, all);
  if (!rep)
    return rep.err();
  out.skipped = rep->skipped;
  auto parts = random_split(all.ratings, opts.split, opts.seed);
  out.test = all.with_ratings(std::move(parts.test));
  all.ratings = std::move(parts.train);
  out.train = std::move(all);
  std::ostringstream src;
  src << file << " split " << opts.split << " (seed " << opts.seed << ")";
  out.source = src.str();
  return out;
}

}  // namespace

result<loaded_data> load_data(const data_options& opts) {
  auto data = read_data(opts);
  if (data && data->skipped > 0)
    std::cerr << "recflow: skipped " << data->skipped << " bad lines (--lenient)\n";
  return data;
}

result<stream_order> parse_order(const std::string& word) {
  if (word == "random")
    return stream_order::random;
  if (word == "time")
    return stream_order::time;
  return error{errc::invalid_argument, "--order must be random or time, got '" + word + "'"};
}

}  // namespace recflow::cli
