/// recflow in one include: the factor model and its training (batch ALS, streaming
/// updates, implicit ALS in batch and streaming, metrics, top-N), rating files, sources, partitioners, the streaming graph and
/// the engines that run it in one process or across nodes. Link `recflow::recflow`.
///
///   #include <recflow/recflow.hpp>
///
///   auto graph = recflow::make_streaming_graph(recflow::synthetic_source({}), {}, 2);
///   auto engine = recflow::local_engine::make(graph, {.workers = 2});
///   auto summary = (*engine)->run();
///
/// Not included, because they need more libraries: the Redis and socket sources
/// (<recflow/sources/...>, link `recflow::sources`: hiredis, Boost.Asio) and serving
/// queries over HTTP (<recflow/serve/...>, link `recflow::serve`: Boost.Beast, JSON).
/// Each layer's other headers (internals, the tuning search, cost simulations) are there
/// to include one by one.
#pragma once

// model: the math (Eigen and std only)
#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/streaming.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/events.hpp"
#include "recflow/model/split.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/similar.hpp"
#include "recflow/model/model_io.hpp"

// data: rating files in, whole or in batches
#include "recflow/data/ingest.hpp"
#include "recflow/data/rating_reader.hpp"
#include "recflow/data/events.hpp"

// graph: batches, sources, partitioners and the dataflow as data
#include "recflow/graph/batch.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/graph/partitioners.hpp"
#include "recflow/graph/graph.hpp"

// engine: runs a graph on actors, locally or on `recflow node` processes
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/stream_job.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/implicit_graph.hpp"
