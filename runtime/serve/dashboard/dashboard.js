// The recflow dashboard: loads the run's state from /dashboard.json, then follows
// /events (Server-Sent Events); polls /dashboard.json when events are not available.
// The numbers the charts hold are mirrored in data-* attributes of <main> for tests.
'use strict';
(function () {
  var MAX_POINTS = 20000;  // as the server's history: past it, old points are thinned
  var main = document.getElementById('dashboard');
  var s = { points: [], baseline: null, status: {}, info: {}, log: [], queries: [], shards: {}, lastBatch: 0, events: 0 };
  var source = null, pollTimer = null, dirty = false, charts = {};

  function $(id) { return document.getElementById(id); }
  function fmt(v, digits) { return v === null || v === undefined || !isFinite(v) ? '-' : Number(v).toFixed(digits); }
  function big(v) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    if (v >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return String(Math.round(v));
  }
  function seconds(v) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    if (v < 1) return (v * 1e3).toFixed(1) + ' ms';
    if (v < 120) return v.toFixed(1) + ' s';
    return (v / 60).toFixed(1) + ' min';
  }

  function chart(id, labels, extra) {
    var opts = { labels: labels, connectSeparatedPoints: true, legend: 'always', labelsSeparateLines: false,
                 xlabel: labels[0], strokeWidth: 1.5, animatedZooms: false };
    for (var k in extra) opts[k] = extra[k];
    return new Dygraph($(id), [[0].concat(labels.slice(1).map(function () { return null; }))], opts);
  }

  function setup() {
    charts.error = chart('chart-error', ['batch', 'RMSE', 'MAE', 'batch ALS RMSE'],
                         { colors: ['#c0392b', '#2c7fb8', '#555'], series: { 'batch ALS RMSE': { strokePattern: [6, 3] } } });
    var bigAxis = { y: { axisLabelFormatter: big, axisLabelWidth: 56 } };
    charts.rate = chart('chart-rate', ['batch', 'ratings/s'], { colors: ['#27ae60'], includeZero: true, axes: bigAxis });
    charts.latency = chart('chart-latency', ['batch', 'latency ms'], { colors: ['#8e44ad'], includeZero: true });
    charts.queries = chart('chart-queries', ['seconds', 'p50 ms', 'p99 ms'], { colors: ['#16a085', '#d35400'], includeZero: true });
    charts.shards = chart('chart-shards', ['batch', 'user owners', 'item owners'], { colors: ['#2c7fb8', '#d35400'] });
  }

  function addPoint(p) {
    if (p[0] <= s.lastBatch) return;
    s.points.push(p);
    s.lastBatch = p[0];
    if (s.points.length > MAX_POINTS) {
      var kept = [];
      for (var i = 0; i + 1 < s.points.length; i += 2) kept.push(s.points[i]);
      kept.push(s.points[s.points.length - 1]);
      s.points = kept;
    }
  }

  function noteQueries(st) {
    if (!st || st.queries === undefined || st.uptime_seconds === undefined) return;
    var last = s.queries[s.queries.length - 1];
    if (last && st.uptime_seconds - last[0] < 1) return;  // one sample a second is plenty
    s.queries.push([st.uptime_seconds, st.query_p50_seconds === null ? null : st.query_p50_seconds * 1e3,
                    st.query_p99_seconds === null ? null : st.query_p99_seconds * 1e3]);
    if (s.queries.length > 3600) s.queries.shift();
  }

  function render() {
    dirty = false;
    var p = s.points, last = null;
    if (p.length > 0) {
      var base = s.baseline;
      charts.error.updateOptions({ file: p.map(function (r) { return [r[0], r[2], r[3], base]; }),
                                   visibility: [true, true, base !== null && base !== undefined] });
      charts.rate.updateOptions({ file: p.map(function (r) { return [r[0], r[5]]; }) });
      charts.latency.updateOptions({ file: p.map(function (r) { return [r[0], r[4] === null ? null : r[4] * 1e3]; }) });
      if (p[p.length - 1][7] !== undefined && p[p.length - 1][7] !== null)
        charts.shards.updateOptions({ file: p.map(function (r) { return [r[0], r[7] === undefined ? null : r[7], r[8] === undefined ? null : r[8]]; }) });
      for (var i = p.length - 1; i >= 0; --i) if (p[i][2] !== null) { last = p[i]; break; }
    }
    if (s.queries.length > 0) charts.queries.updateOptions({ file: s.queries });
    var st = s.status;
    main.dataset.points = String(p.length);
    main.dataset.chartRows = String(p.length > 0 ? charts.error.numRows() : 0);
    main.dataset.lastBatch = String(s.lastBatch);
    main.dataset.events = String(s.events);
    main.dataset.lastRmse = last ? String(last[2]) : '';
    main.dataset.finalRmse = st.final_rmse === null || st.final_rmse === undefined ? '' : String(st.final_rmse);
    main.dataset.state = st.finished ? 'done' : 'live';
    $('state-label').textContent = st.finished ? 'stream ended' : 'training';
    $('t-batches').textContent = big(s.lastBatch);
    $('t-rmse').textContent = fmt(st.finished && st.final_rmse !== null ? st.final_rmse : (last ? last[2] : null), 4);
    $('t-mae').textContent = fmt(st.finished && st.final_mae !== null ? st.final_mae : (last ? last[3] : null), 4);
    $('t-rate').textContent = big(st.ratings_per_second);
    $('t-latency').textContent = seconds(st.latency_seconds);
    $('t-version').textContent = st.version === undefined ? '-' : String(st.version);
    $('t-age').textContent = seconds(st.model_age_seconds);
    $('t-queries').textContent = st.queries ? seconds(st.query_p50_seconds) + ' / ' + seconds(st.query_p99_seconds) : '-';
    $('t-posted').textContent = big(st.posted_ratings);
    showShards(s.shards);
    var body = $('info').tBodies[0];
    body.innerHTML = '';
    Object.keys(s.info).forEach(function (k) {
      var tr = body.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = s.info[k];
    });
    $('run-line').textContent = s.info.data ? 'streaming ' + s.info.data : '';
    var log = $('log');
    log.innerHTML = '';
    s.log.slice(-50).forEach(function (l) { var li = document.createElement('li'); li.textContent = l; log.appendChild(li); });
  }

  function renderSoon() {
    if (dirty) return;
    dirty = true;
    setTimeout(render, 200);  // many batches a second arrive as one redraw
  }

  function showEdges(edges) {
    var body = $('edges').tBodies[0];
    body.innerHTML = '';
    (edges || []).forEach(function (e) {
      var tr = body.insertRow();
      tr.insertCell().textContent = e.name;
      tr.insertCell().textContent = big(e.messages);
      tr.insertCell().textContent = big(e.bytes);
    });
  }

  // Ratings per shard since the start, as bars scaled to the busiest shard, and how
  // uneven each side is (the busiest shard over the mean).
  function showShards(sh) {
    sh = sh || {};
    var user = sh.user || { total: [] }, item = sh.item || { total: [] };
    var n = Math.max(user.total.length, item.total.length);
    var top = Math.max.apply(null, [1].concat(user.total, item.total));
    var body = $('shards').tBodies[0];
    body.innerHTML = '';
    function cell(tr, v, cls) {
      var td = tr.insertCell();
      if (v === undefined) { td.textContent = '-'; return; }
      var bar = document.createElement('span');
      bar.className = 'bar ' + cls;
      bar.style.width = (100 * v / top).toFixed(1) + 'px';
      td.appendChild(bar);
      td.appendChild(document.createTextNode(big(v)));
    }
    for (var i = 0; i < n; ++i) {
      var tr = body.insertRow();
      tr.insertCell().textContent = String(i);
      cell(tr, user.total[i], 'user');
      cell(tr, item.total[i], 'item');
    }
    var foot = $('shards').tFoot;
    foot.innerHTML = '';
    if (n > 0) {
      var f = foot.insertRow();
      f.insertCell().textContent = 'max/mean';
      f.insertCell().textContent = fmt(user.max_over_mean, 3);
      f.insertCell().textContent = fmt(item.max_over_mean, 3);
    }
    main.dataset.shards = String(n);
    main.dataset.inFlight = sh.in_flight === null || sh.in_flight === undefined ? '' : String(sh.in_flight);
    $('t-inflight').textContent = main.dataset.inFlight === '' ? '-' : main.dataset.inFlight;
    $('t-imbalance').textContent = n > 0 ? fmt(user.max_over_mean, 2) + ' / ' + fmt(item.max_over_mean, 2) : '-';
  }

  function load(state) {
    s.info = state.info || {};
    s.baseline = state.baseline_rmse;
    s.log = state.log || [];
    s.status = state.status || {};
    showEdges(state.edges);
    s.shards = state.shards || {};
    s.points = [];
    s.lastBatch = 0;
    (state.points || []).forEach(addPoint);
    noteQueries(s.status);
    render();  // at once: a reload is rare, and the first view should not wait
  }

  function reload(then) {
    var req = new XMLHttpRequest();
    req.open('GET', '/dashboard.json');
    req.setRequestHeader('Cache-Control', 'no-store');
    req.onload = function () {
      if (req.status === 200) { load(JSON.parse(req.responseText)); if (then) then(); }
      else if (then) poll();
    };
    req.onerror = function () { poll(); };
    req.send();
  }

  function poll() {
    if (pollTimer !== null) return;
    pollTimer = setTimeout(function () {
      pollTimer = null;
      reload(function () { if (!s.status.finished) poll(); });
    }, 1000);
  }

  function follow() {
    if (s.status.finished) { render(); return; }
    // ?transport=poll: for proxies that buffer event streams (and to test the fallback).
    var forcePoll = /[?&]transport=poll(&|$)/.test(window.location.search);
    main.dataset.transport = forcePoll || !window.EventSource ? 'poll' : 'events';
    if (main.dataset.transport === 'poll') { poll(); return; }
    source = new EventSource('/events');
    source.addEventListener('batch', function (e) {
      var d = JSON.parse(e.data);
      var points = d.points || [d.point];  // the batches since the last event, in order
      s.events += 1;
      if (s.lastBatch > 0 && points[0][0] > s.lastBatch + 1) { reload(); return; }  // missed some
      points.forEach(addPoint);
      s.status = d.status;
      noteQueries(d.status);
      showEdges(d.edges);
      if (d.shards) s.shards = d.shards;
      renderSoon();
    });
    source.addEventListener('log', function (e) { s.log.push(JSON.parse(e.data).line); renderSoon(); });
    source.addEventListener('resync', function () { reload(); });
    source.addEventListener('end', function (e) {
      source.close();
      s.status = JSON.parse(e.data).status;
      reload();  // the whole history, with the final model's error
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {  // refused (e.g. too many clients)
        main.dataset.transport = 'poll';
        poll();
      }
    };
  }

  setup();
  reload(follow);
})();
