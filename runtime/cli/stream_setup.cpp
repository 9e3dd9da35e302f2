// `recflow stream`: the options checked and turned into a job, in the order the command
// has always reported them.
#include <iostream>

#include "cli/nodes_option.hpp"
#include "cli/stream_options.hpp"
#include "recflow/model/model_io.hpp"

namespace recflow::cli {

namespace {

/// The choices spelled as words, and --engine's default with --mode sgd.
result<void> parse_choices(stream_options& o) {
  auto order = parse_order(o.order);
  if (!order)
    return order.err();
  o.eval.order = *order;
  if (o.mode == "batch-gradient")
    o.params.mode = update_mode::batch_gradient;
  else if (o.mode == "sgd")
    o.params.mode = update_mode::sgd;
  else
    return error{errc::invalid_argument, "--mode must be batch-gradient or sgd, got '" + o.mode + "'"};
  if (o.engine != "local" && o.engine != "reference")
    return error{errc::invalid_argument, "--engine must be local or reference, got '" + o.engine + "'"};
  // The graph runs batch-gradient steps only: without an explicit --engine, --mode sgd
  // selects the reference loop.
  if (!o.engine_given && o.params.mode != update_mode::batch_gradient)
    o.engine = "reference";
  if (o.engine == "local" && o.params.mode != update_mode::batch_gradient)
    return error{errc::invalid_argument,
                 "--mode sgd is sequential by nature: run it with --engine reference"};
  return validate(o.engine_opts);
}

}  // namespace

result<stream_job_options> configure_stream(stream_options& o) {
  if (auto ok = parse_choices(o); !ok)
    return ok.err();
  stream_job_options job;
  if (!o.nodes.empty()) {
    auto nodes = nodes_option(o.nodes, o.engine, o.link);
    if (!nodes)
      return nodes.err();
    on_nodes where{.nodes = std::move(nodes->nodes), .secret = std::move(nodes->secret),
                   .tls = std::move(nodes->tls), .recover = o.recover,
                   .checkpoint_every = o.sources.checkpoint_every};
    if (o.explain)
      where.on_placement = [](const std::string& text) { std::cout << text << std::flush; };
    where.on_event = [](const std::string& line) {
      std::cout << std::flush;
      std::cerr << "recflow: " << line << std::endl;
    };
    job.where = std::move(where);
  }
  if (o.recover && o.nodes.empty())
    return error{errc::invalid_argument, "--recover needs --nodes"};
  if (o.recover && o.sources.checkpoint_every == 0)
    return error{errc::invalid_argument, "checkpoint interval must be positive, got 0"};
  if (o.partitions == 0)
    return error{errc::invalid_argument, "partition count must be positive, got 0"};
  job.partitions = o.partitions;
  job.engine = o.engine_opts;
  job.max_batches = o.eval.max_batches;
  job.evaluation.every = o.eval.eval_every;
  return job;
}

result<std::shared_ptr<const factor_model>> load_stream_seed(stream_options& o) {
  std::shared_ptr<const factor_model> seed;
  if (!o.init_model.empty()) {
    auto loaded = load_model(o.init_model);
    if (!loaded)
      return loaded.err();
    seed = std::make_shared<const factor_model>(std::move(*loaded));
    if (!o.rank_given)
      o.params.rank = seed->rank();
  }
  o.params.seed = o.data.seed;
  o.eval.order_seed = o.data.seed;
  if (auto ok = validate(o.params); !ok)
    return ok.err();
  if (auto ok = validate(o.eval); !ok)
    return ok.err();
  if (auto ok = validate(o.ranking); !ok)
    return ok.err();
  if (!o.serve.empty() && o.engine != "local")
    return error{errc::invalid_argument, "--serve needs --engine local (the actor graph)"};
  if (!o.serve.empty() && !o.nodes.empty())
    return error{errc::invalid_argument,
                 "--serve runs on the local engine: not with --nodes (queries would need "
                 "the model from the nodes)"};
  if (!o.sources.source.empty() && !o.nodes.empty())
    return error{errc::invalid_argument,
                 "--source runs on the local engine only, not with --nodes yet (--train/--data "
                 "with --checkpoint-dir and --resume do)"};
  return seed;
}

}  // namespace recflow::cli
