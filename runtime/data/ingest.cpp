// A first, simple implementation of the ingest interface (to be replaced by a fast one).
#include "data/ingest.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace recflow {

std::optional<input_format> parse_input_format(std::string_view name) noexcept {
  if (name == "detect" || name == "auto") return input_format::detect;
  if (name == "ml100k") return input_format::ml100k;
  if (name == "ml-csv") return input_format::ml_csv;
  if (name == "ml-dat") return input_format::ml_dat;
  if (name == "delimited") return input_format::delimited;
  return std::nullopt;
}

const char* to_string(input_format f) noexcept {
  switch (f) {
    case input_format::detect: return "detect";
    case input_format::ml100k: return "ml100k";
    case input_format::ml_csv: return "ml-csv";
    case input_format::ml_dat: return "ml-dat";
    case input_format::delimited: return "delimited";
  }
  return "unknown";
}

result<ingest_report> parse_ratings_into(std::string_view text, std::string_view name,
                                         const ingest_options& opts, rating_table& table) {
  ingest_report rep;
  input_format fmt = opts.format;
  if (fmt == input_format::detect) {
    auto first = text.substr(0, text.find('\n'));
    if (first.find("::") != std::string_view::npos) fmt = input_format::ml_dat;
    else if (first.find(',') != std::string_view::npos) fmt = input_format::ml_csv;
    else fmt = input_format::ml100k;
  }
  rep.format = fmt;
  rating_scale scale = opts.scale.value_or(fmt == input_format::ml_csv ? rating_scale{0.5, 5.0}
                                                                       : rating_scale{1.0, 5.0});
  table.scale = scale;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++rep.lines;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (fmt == input_format::ml_csv && rep.lines == 1)) continue;
    std::string s(line);
    for (auto& c : s) if (c == ',' || c == ':' || c == '\t') c = ' ';
    std::istringstream in(s);
    std::int64_t u, i, ts = 0;
    double v;
    if (!(in >> u >> i >> v)) {
      return error{errc::parse, std::string(name) + ":" + std::to_string(rep.lines) + ": bad line"};
    }
    in >> ts;
    if (!std::isfinite(v) || !scale.contains(v))
      return error{errc::invalid_value, std::string(name) + ":" + std::to_string(rep.lines)
                                            + ": rating out of scale"};
    table.ratings.push_back(rating{table.users.insert(u), table.items.insert(i),
                                   static_cast<float>(v), ts});
    ++rep.ratings;
  }
  return rep;
}

result<ingest_report> read_ratings_into(const std::string& path, const ingest_options& opts,
                                        rating_table& table) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error{errc::io, path + ": cannot open"};
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_ratings_into(ss.str(), path, opts, table);
}

result<rating_table> read_ratings(const std::string& path, const ingest_options& opts,
                                  ingest_report* report) {
  rating_table t;
  auto r = read_ratings_into(path, opts, t);
  if (!r) return r.err();
  if (report) *report = *r;
  return t;
}

}  // namespace recflow
