// gradflow dashboard: follows the runs that `graph-runner dashboard` serves and draws them with
// Chart.js. The page asks /api/runs every half second, saying which lines it holds; each answer
// carries only the lines it does not have yet. Text from the files goes into the page as text,
// never as markup.
'use strict';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf'];
const DASH = {train: [], val: [6, 4], test: [2, 3]};
const ARRIVALS_KEPT = 200;
const POLL_MS = 500;

const runs = [];          // one per served file, in the server's order
let server = null;        // which server answered (a restarted one starts its runs again)
let smoothing = 0.6;
let logScale = false;
const charts = {};

// ---- the lines of a run, as series of {x: step, y, epoch} ----

function finite(v) {
  return typeof v === 'number' && isFinite(v) ? v : null;
}

function emptySeries() {
  return {stepLoss: [], smoothed: [], stepLr: [], throughput: [], trainLoss: [], valLoss: [], testLoss: [],
    trainAcc: [], valAcc: [], testAcc: [], epochLr: [], ema: {last: 0, count: 0}};
}

function newRun(info) {
  const run = {id: info.id, path: info.path, color: COLORS[info.id % COLORS.length], generation: info.generation,
    lines: 0, lastStep: null, lastEpoch: null, state: info.state, message: info.message, visible: true,
    arrivals: [], series: emptySeries(), item: null, datasets: []};
  runs.push(run);
  addLegendItem(run);
  addDatasets(run);
  return run;
}

// TensorBoard's smoothing: an exponential moving average, debiased for its start.
function smoothNext(ema, y) {
  if (y === null) return null;
  ema.last = ema.last * smoothing + (1 - smoothing) * y;
  ema.count += 1;
  const debias = smoothing === 1 ? 1 : 1 - Math.pow(smoothing, ema.count);
  return ema.last / debias;
}

function resmooth(run) {
  const s = run.series;
  s.ema = {last: 0, count: 0};
  s.smoothed.length = 0;
  for (const p of s.stepLoss) s.smoothed.push({x: p.x, y: smoothNext(s.ema, p.y), epoch: p.epoch});
}

// One line of a --metrics file: an epoch's, a step line or a validation inside an epoch (the
// server checked it: metrics_file.cpp says which is which).
function addLine(run, line) {
  const s = run.series;
  const step = finite(line.step), epoch = finite(line.epoch);
  const x = step !== null ? step : epoch;  // lines of old files without a step: at their epoch
  if (x === null) return;
  const put = (series, value, scale = 1) => {
    const y = finite(value);
    if (y !== null) series.push({x, y: y * scale, epoch});
  };
  run.lastStep = x;
  if (epoch !== null) run.lastEpoch = epoch;
  if ('samples_per_s' in line && 'loss' in line && step !== null) {
    const y = finite(line.loss);
    if (y !== null) {
      s.stepLoss.push({x, y, epoch});
      s.smoothed.push({x, y: smoothNext(s.ema, y), epoch});
    }
    put(s.stepLr, line.lr);
    put(s.throughput, line.samples_per_s);
  } else if ('loss' in line) {
    put(s.trainLoss, line.loss);
    put(s.valLoss, line.val_loss);
    put(s.testLoss, line.test_loss);
    put(s.trainAcc, line.accuracy, 100);
    put(s.valAcc, line.val_accuracy, 100);
    put(s.testAcc, line.test_accuracy, 100);
    put(s.epochLr, line.lr);
  } else {
    put(s.valLoss, line.val_loss);
    put(s.valAcc, line.val_accuracy, 100);
  }
}

// ---- charts ----

function format(v) {
  if (v === null || v === undefined) return 'n/a';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return Number(v.toPrecision(5)).toString();
}

function makeChart(id, yTitle, logCapable) {
  const canvas = document.getElementById(id);
  const chart = new Chart(canvas, {
    type: 'line',
    data: {datasets: []},
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: {mode: 'nearest', axis: 'x', intersect: false},
      elements: {point: {radius: 0, hoverRadius: 4}, line: {tension: 0}},
      scales: {
        x: {type: 'linear', title: {display: true, text: 'step'}, ticks: {maxTicksLimit: 10}},
        y: {type: 'linear', title: {display: true, text: yTitle}},
      },
      plugins: {
        legend: {display: false},
        decimation: {enabled: true, algorithm: 'lttb', samples: 800},
        tooltip: {
          callbacks: {
            title: (items) => items.length ? `step ${items[0].raw.x}` +
              (items[0].raw.epoch !== null && items[0].raw.epoch !== undefined ? `, epoch ${items[0].raw.epoch}` : '') : '',
            label: (item) => `${item.dataset.label}: ${format(item.raw.y)}`,
          },
        },
      },
    },
  });
  chart.$logCapable = logCapable;
  charts[id] = chart;
  return chart;
}

// The datasets of one run in every chart; each shares its series array with the run.
function addDatasets(run) {
  const s = run.series;
  const name = run.path;
  const faint = run.color + '55';
  const line = (chart, label, data, style = {}) => {
    const d = Object.assign({label: `${name} ${label}`, data, borderColor: run.color, backgroundColor: run.color,
      borderWidth: 2, pointRadius: 0, $run: run.id, $series: label, hidden: !run.visible}, style);
    charts[chart].data.datasets.push(d);
    run.datasets.push({chart, dataset: d, key: label});
  };
  line('chart-step-loss', 'loss (raw)', s.stepLoss, {borderColor: faint, backgroundColor: faint, borderWidth: 1});
  line('chart-step-loss', 'loss (smoothed)', s.smoothed);
  const epochs = {pointRadius: 2.5};
  line('chart-epoch-loss', 'train loss', s.trainLoss, epochs);
  line('chart-epoch-loss', 'validation loss', s.valLoss, Object.assign({borderDash: DASH.val}, epochs));
  line('chart-epoch-loss', 'test loss', s.testLoss, Object.assign({borderDash: DASH.test}, epochs));
  line('chart-epoch-accuracy', 'train accuracy', s.trainAcc, epochs);
  line('chart-epoch-accuracy', 'validation accuracy', s.valAcc, Object.assign({borderDash: DASH.val}, epochs));
  line('chart-epoch-accuracy', 'test accuracy', s.testAcc, Object.assign({borderDash: DASH.test}, epochs));
  line('chart-lr', 'learning rate (per step)', s.stepLr);
  line('chart-lr', 'learning rate (per epoch)', s.epochLr, Object.assign({borderDash: DASH.val}, epochs));
  line('chart-throughput', 'samples/s', s.throughput);
}

// After new data: each dataset gets its (possibly new) array, each chart redraws once.
function redraw() {
  for (const run of runs) {
    const s = run.series;
    const arrays = {'loss (raw)': s.stepLoss, 'loss (smoothed)': s.smoothed, 'train loss': s.trainLoss,
      'validation loss': s.valLoss, 'test loss': s.testLoss, 'train accuracy': s.trainAcc,
      'validation accuracy': s.valAcc, 'test accuracy': s.testAcc, 'learning rate (per step)': s.stepLr,
      'learning rate (per epoch)': s.stepLr.length ? [] : s.epochLr, 'samples/s': s.throughput};
    for (const {dataset, key} of run.datasets) {
      // Chart.js keeps decimated copies of data it was given: a fresh array each time.
      dataset.data = arrays[key].slice();
      dataset.hidden = !run.visible;
    }
  }
  for (const [id, chart] of Object.entries(charts)) {
    const y = chart.options.scales.y;
    y.type = logScale && chart.$logCapable ? 'logarithmic' : 'linear';
    // A constant curve (a learning rate without schedule) gets an axis around its value, not
    // Chart.js's [v - 1, v + 1].
    let lo = Infinity, hi = -Infinity;
    for (const d of chart.data.datasets) {
      if (d.hidden) continue;
      for (const p of d.data) lo = Math.min(lo, p.y), hi = Math.max(hi, p.y);
    }
    const flat = lo <= hi && hi - lo <= 1e-9 * Math.max(Math.abs(hi), 1e-300);
    const pad = flat ? (Math.abs(hi) || 1) * 0.5 : 0;
    y.min = flat && !(logScale && chart.$logCapable) ? hi - pad : undefined;
    y.max = flat && !(logScale && chart.$logCapable) ? hi + pad : undefined;
    chart.update('none');
    const drawn = chart.data.datasets.some((d) => !d.hidden && d.data.length > 0);
    const plot = document.getElementById(id).parentElement;
    if (drawn) plot.dataset.drawn = '';
    else delete plot.dataset.drawn;
  }
  for (const run of runs) updateLegendItem(run);
}

// ---- the list of runs (the legend) ----

function addLegendItem(run) {
  const item = document.createElement('li');
  item.className = 'run';
  item.dataset.run = String(run.id);
  item.title = 'click to show or hide this run';
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = run.color;
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = run.path;
  const status = document.createElement('span');
  status.className = 'status';
  item.append(swatch, name, status);
  item.addEventListener('click', () => {
    run.visible = !run.visible;
    redraw();
  });
  document.getElementById('runs').append(item);
  run.item = item;
}

function updateLegendItem(run) {
  const item = run.item;
  // The points each chart drew of the run (what the tests read), beside the lines received.
  const drawn = (key) => {
    const {chart, dataset} = run.datasets.find((d) => d.key === key);
    return charts[chart].getDatasetMeta(charts[chart].data.datasets.indexOf(dataset)).data.length;
  };
  item.dataset.state = run.state;
  item.dataset.lines = String(run.lines);
  item.dataset.stepPoints = String(drawn('loss (raw)'));
  item.dataset.epochPoints = String(drawn('train loss'));
  item.dataset.validationPoints = String(drawn('validation loss'));
  item.dataset.lastStep = run.lastStep === null ? '' : String(run.lastStep);
  item.dataset.arrivals = run.arrivals.join(' ');
  if (run.visible) delete item.dataset.hidden;
  else item.dataset.hidden = '';
  let text;
  if (run.state === 'live') {
    text = `${run.lines} lines`;
    if (run.lastStep !== null) text += `, step ${run.lastStep}`;
    if (run.lastEpoch !== null) text += `, epoch ${run.lastEpoch}`;
  } else {
    text = run.message;
  }
  item.querySelector('.status').textContent = text;
}

// ---- following the server ----

function resetRun(run, info) {
  run.generation = info.generation;
  run.lines = 0;
  run.lastStep = null;
  run.lastEpoch = null;
  run.series = emptySeries();
}

function take(answer) {
  if (server !== answer.started_ms) {
    server = answer.started_ms;
    for (const run of runs) resetRun(run, {generation: -1});
  }
  for (const info of answer.runs) {
    const run = runs[info.id] || newRun(info);
    if (run.generation !== info.generation || info.from !== run.lines) resetRun(run, info);
    if (info.from !== run.lines) continue;  // the next answer starts it again from line 0
    for (const line of info.lines) addLine(run, line);
    run.lines = info.from + info.lines.length;
    run.state = info.state;
    run.message = info.message;
    if (info.lines.length) {
      run.arrivals.push(`${run.lines}@${answer.now_ms}`);
      if (run.arrivals.length > ARRIVALS_KEPT) run.arrivals.shift();
    }
  }
  document.body.dataset.answeredAt = String(answer.now_ms);
  redraw();
}

function setConnection(state, text) {
  const el = document.getElementById('connection');
  el.dataset.state = state;
  el.textContent = text;
}

async function poll() {
  const have = runs.map((r) => `${r.generation}.${r.lines}`).join(',');
  try {
    const response = await fetch(`/api/runs?have=${have}`, {cache: 'no-store'});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    take(await response.json());
    setConnection('live', 'following the runs');
    setTimeout(poll, POLL_MS);
  } catch (e) {
    setConnection('lost', 'the dashboard server does not answer (stopped?): retrying');
    setTimeout(poll, 2000);
  }
}

function start() {
  if (typeof Chart === 'undefined') {
    document.getElementById('no-chart').hidden = false;
    return;
  }
  makeChart('chart-step-loss', 'loss', true);
  makeChart('chart-epoch-loss', 'loss', true);
  makeChart('chart-epoch-accuracy', 'accuracy (%)', false);
  makeChart('chart-lr', 'learning rate', true);
  makeChart('chart-throughput', 'samples/s', true);
  const slider = document.getElementById('smoothing');
  slider.addEventListener('input', () => {
    smoothing = Number(slider.value);
    document.getElementById('smoothing-value').textContent = smoothing.toFixed(2);
    for (const run of runs) resmooth(run);
    redraw();
  });
  document.getElementById('log-scale').addEventListener('change', (e) => {
    logScale = e.target.checked;
    redraw();
  });
  poll();
}

start();
