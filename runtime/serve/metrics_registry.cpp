#include "recflow/serve/metrics_registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace recflow::serve {

metric_histogram::metric_histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  counts_.assign(bounds_.size() + 1, 0);
}

void metric_histogram::observe(double v) noexcept {
  if (std::isnan(v))
    return;
  auto slot = std::size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[slot];
  sum_ += v;
  ++count_;
}

metric_histogram::snapshot_type metric_histogram::snapshot() const {
  std::lock_guard lock(mutex_);
  return {bounds_, counts_, sum_, count_};
}

double metric_histogram::quantile(double q) const {
  auto s = snapshot();
  if (s.count == 0 || std::isnan(q))
    return std::numeric_limits<double>::quiet_NaN();
  double rank = std::clamp(q, 0.0, 1.0) * double(s.count);
  std::uint64_t below = 0;
  for (std::size_t b = 0; b < s.counts.size(); ++b) {
    if (double(below + s.counts[b]) >= rank && s.counts[b] > 0) {
      if (b == s.bounds.size())  // above the largest bound: that bound is all we know
        return s.bounds.empty() ? s.sum / double(s.count) : s.bounds.back();
      double lo = b == 0 ? 0.0 : s.bounds[b - 1];
      double hi = s.bounds[b];
      return lo + (hi - lo) * (rank - double(below)) / double(s.counts[b]);
    }
    below += s.counts[b];
  }
  return s.bounds.empty() ? s.sum / double(s.count) : s.bounds.back();
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  std::vector<double> b;
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor)
    b.push_back(v);
  return b;
}

std::string format_metric_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

bool name_char(char c, bool first, bool colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/// HELP text escaped: backslash and newline.
std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

/// "{a="x",b="y"}" with `extra` (e.g. le) last; "" without labels.
std::string label_text(const metric_labels& labels, std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty())
    return {};
  std::string out = "{";
  bool first = true;
  auto put = [&](std::string_view k, std::string_view v) {
    if (!first)
      out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [k, v] : labels)
    put(k, v);
  if (!extra_name.empty())
    put(extra_name, extra_value);
  out += '}';
  return out;
}

void write_histogram(std::string& out, const std::string& name, const metric_labels& labels,
                     const metric_histogram& h) {
  auto s = h.snapshot();
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < s.counts.size(); ++b) {
    cumulative += s.counts[b];
    auto le = b < s.bounds.size() ? format_metric_value(s.bounds[b]) : std::string("+Inf");
    out += name + "_bucket" + label_text(labels, "le", le) + ' ' + std::to_string(cumulative) + '\n';
  }
  out += name + "_sum" + label_text(labels) + ' ' + format_metric_value(s.sum) + '\n';
  out += name + "_count" + label_text(labels) + ' ' + std::to_string(s.count) + '\n';
}

}  // namespace

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true))
      return false;
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || name.starts_with("__"))
    return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false))
      return false;
  return true;
}

metrics_registry::family& metrics_registry::find_or_add(std::string_view name, std::string_view help,
                                                        kind type, const metric_labels& labels) {
  if (!valid_metric_name(name))
    throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  if (type == kind::counter && !name.ends_with("_total"))
    throw std::invalid_argument("counter '" + std::string(name) + "' must end in _total");
  for (const auto& [k, v] : labels)
    if (!valid_label_name(k) || (type == kind::histogram && k == "le"))
      throw std::invalid_argument("invalid label name '" + k + "' of " + std::string(name));
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), family{type, std::string(help), {}, {}, {}, {}}).first;
  else if (it->second.type != type)
    throw std::invalid_argument("metric '" + std::string(name) + "' registered with two types");
  return it->second;
}

namespace {
/// The series of `labels` in a family's map of counters or gauges, created at first use.
template <class Series>
Series& series_of(std::map<metric_labels, std::unique_ptr<Series>>& series, const metric_labels& labels) {
  auto& slot = series[labels];
  if (!slot)
    slot = std::make_unique<Series>();
  return *slot;
}
}  // namespace

metric_counter& metrics_registry::counter(std::string_view name, std::string_view help,
                                          const metric_labels& labels) {
  std::lock_guard lock(mutex_);
  return series_of(find_or_add(name, help, kind::counter, labels).counters, labels);
}

metric_gauge& metrics_registry::gauge(std::string_view name, std::string_view help,
                                      const metric_labels& labels) {
  std::lock_guard lock(mutex_);
  return series_of(find_or_add(name, help, kind::gauge, labels).gauges, labels);
}

metric_histogram& metrics_registry::histogram(std::string_view name, std::string_view help,
                                              const std::vector<double>& bounds,
                                              const metric_labels& labels) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end() && it->second.type == kind::histogram)
    if (auto h = it->second.histograms.find(labels); h != it->second.histograms.end())
      return *h->second;  // the common case: no allocation
  auto fresh = std::make_unique<metric_histogram>(bounds);  // checks the bounds before any change
  auto& f = find_or_add(name, help, kind::histogram, labels);
  if (f.histograms.empty())
    f.bounds = bounds;
  else if (f.bounds != bounds)
    fresh = std::make_unique<metric_histogram>(f.bounds);
  auto& slot = f.histograms[labels];
  if (!slot)
    slot = std::move(fresh);
  return *slot;
}

void metrics_registry::on_collect(std::function<void()> f) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(f));
}

std::string metrics_registry::expose() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& c : collectors)  // outside the lock: a collector may set gauges
    c();
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + ' ' + escape_help(f.help) + '\n';
    out += "# TYPE " + name + ' ' + type_names[static_cast<int>(f.type)] + '\n';
    for (const auto& [labels, c] : f.counters)
      out += name + label_text(labels) + ' ' + format_metric_value(c->value()) + '\n';
    for (const auto& [labels, g] : f.gauges)
      out += name + label_text(labels) + ' ' + format_metric_value(g->value()) + '\n';
    for (const auto& [labels, h] : f.histograms)
      write_histogram(out, name, labels, *h);
  }
  return out;
}

}  // namespace recflow::serve
