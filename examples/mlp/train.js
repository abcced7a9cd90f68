// A small, real optimisation problem for autoloop's demo: train a one-hidden-layer MLP with
// mini-batch SGD on a fixed synthetic regression task and report the validation loss.
// Plain Node, no dependencies, fully deterministic: the same params.json gives the same val_loss.
//
// Hyperparameters come from params.json (the file autoloop tunes). This script is the
// evaluator, so autoloop protects it: a proposal may change the knobs, never the measurement.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// Fixed so that every candidate gets the same compute budget and a run stays under ~1 s.
const EPOCHS = 800;
const TRAIN_SIZE = 512;
const VAL_SIZE = 256;
const NOISE = 0.1;
const DATA_SEED = 20240601;
const INIT_SEED = 7;
const SHUFFLE_SEED = 11;
const MAX_HIDDEN = 64;

// The committed params.json; a key missing from the file takes its value from here.
const DEFAULTS = {
  learning_rate: 0.003,
  momentum: 0.5,
  hidden_units: 16,
  weight_decay: 0.01,
  batch_size: 64,
  init_scale: 1,
  activation: 'tanh',
};

/** mulberry32: a tiny seeded PRNG, so data, init and shuffling never depend on Math.random. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal deviates by Box–Muller. */
function gaussian(random) {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** y = sin(3·x1) + 0.5·x2² + noise, x uniform on [-1.5, 1.5]². The noise floor of the MSE is NOISE². */
function makeData(size, random) {
  const x = new Float64Array(size * 2);
  const y = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const x1 = random() * 3 - 1.5;
    const x2 = random() * 3 - 1.5;
    x[2 * i] = x1;
    x[2 * i + 1] = x2;
    y[i] = Math.sin(3 * x1) + 0.5 * x2 * x2 + NOISE * gaussian(random);
  }
  return { x, y, size };
}

function fail(message) {
  process.stderr.write(`train.js: ${message}\n`);
  process.exit(1);
}

function readParams() {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'params.json');
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`cannot read ${file}: ${error.message}`);
  }
  const params = { ...DEFAULTS, ...parsed };
  for (const key of ['learning_rate', 'momentum', 'hidden_units', 'weight_decay', 'batch_size', 'init_scale']) {
    if (typeof params[key] !== 'number' || !Number.isFinite(params[key])) fail(`params.json: ${key} must be a finite number`);
  }
  if (params.activation !== 'tanh' && params.activation !== 'relu') fail('params.json: activation must be "tanh" or "relu"');
  if (params.learning_rate <= 0) fail('params.json: learning_rate must be > 0');
  if (params.momentum < 0 || params.momentum >= 1) fail('params.json: momentum must be in [0, 1)');
  if (params.weight_decay < 0) fail('params.json: weight_decay must be >= 0');
  // Capped so that no setting can blow the time budget.
  params.hidden_units = Math.min(MAX_HIDDEN, Math.max(1, Math.round(params.hidden_units)));
  params.batch_size = Math.min(TRAIN_SIZE, Math.max(1, Math.round(params.batch_size)));
  return params;
}

function train(params) {
  const dataRandom = prng(DATA_SEED);
  const trainSet = makeData(TRAIN_SIZE, dataRandom);
  const valSet = makeData(VAL_SIZE, dataRandom);

  const H = params.hidden_units;
  const relu = params.activation === 'relu';
  const initRandom = prng(INIT_SEED);
  // He-style scaling for relu, Xavier-style for tanh, times the tunable init_scale.
  const gain = relu ? Math.SQRT2 : 1;
  const w1 = new Float64Array(H * 2).map(() => (params.init_scale * gain * gaussian(initRandom)) / Math.SQRT2);
  const b1 = new Float64Array(H);
  const w2 = new Float64Array(H).map(() => (params.init_scale * gaussian(initRandom)) / Math.sqrt(H));
  let b2 = 0;

  const gw1 = new Float64Array(H * 2);
  const gb1 = new Float64Array(H);
  const gw2 = new Float64Array(H);
  const vw1 = new Float64Array(H * 2);
  const vb1 = new Float64Array(H);
  const vw2 = new Float64Array(H);
  let vb2 = 0;
  const hidden = new Float64Array(H);

  const { learning_rate: lr, momentum, weight_decay: wd, batch_size: batchSize } = params;
  const order = Array.from({ length: TRAIN_SIZE }, (_, i) => i);
  const shuffleRandom = prng(SHUFFLE_SEED);

  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(shuffleRandom() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < TRAIN_SIZE; start += batchSize) {
      const end = Math.min(TRAIN_SIZE, start + batchSize);
      gw1.fill(0);
      gb1.fill(0);
      gw2.fill(0);
      let gb2 = 0;
      const scale = 2 / (end - start);
      for (let k = start; k < end; k++) {
        const n = order[k];
        const x1 = trainSet.x[2 * n];
        const x2 = trainSet.x[2 * n + 1];
        let out = b2;
        for (let h = 0; h < H; h++) {
          const z = w1[2 * h] * x1 + w1[2 * h + 1] * x2 + b1[h];
          const a = relu ? (z > 0 ? z : 0) : Math.tanh(z);
          hidden[h] = a;
          out += w2[h] * a;
        }
        const dOut = scale * (out - trainSet.y[n]);
        gb2 += dOut;
        for (let h = 0; h < H; h++) {
          const a = hidden[h];
          gw2[h] += dOut * a;
          const dz = dOut * w2[h] * (relu ? (a > 0 ? 1 : 0) : 1 - a * a);
          gw1[2 * h] += dz * x1;
          gw1[2 * h + 1] += dz * x2;
          gb1[h] += dz;
        }
      }
      // SGD with momentum; weight decay on weights only, not biases.
      for (let p = 0; p < H * 2; p++) {
        vw1[p] = momentum * vw1[p] - lr * (gw1[p] + wd * w1[p]);
        w1[p] += vw1[p];
      }
      for (let h = 0; h < H; h++) {
        vb1[h] = momentum * vb1[h] - lr * gb1[h];
        b1[h] += vb1[h];
        vw2[h] = momentum * vw2[h] - lr * (gw2[h] + wd * w2[h]);
        w2[h] += vw2[h];
      }
      vb2 = momentum * vb2 - lr * gb2;
      b2 += vb2;
    }
    if (!Number.isFinite(b2)) fail(`training diverged at epoch ${epoch + 1} (learning_rate ${lr} is too large)`);
  }

  let sum = 0;
  for (let n = 0; n < VAL_SIZE; n++) {
    const x1 = valSet.x[2 * n];
    const x2 = valSet.x[2 * n + 1];
    let out = b2;
    for (let h = 0; h < H; h++) {
      const z = w1[2 * h] * x1 + w1[2 * h + 1] * x2 + b1[h];
      out += w2[h] * (relu ? (z > 0 ? z : 0) : Math.tanh(z));
    }
    sum += (out - valSet.y[n]) ** 2;
  }
  return sum / VAL_SIZE;
}

const started = performance.now();
const valLoss = train(readParams());
const seconds = (performance.now() - started) / 1000;
if (!Number.isFinite(valLoss)) fail('validation loss is not finite (training diverged)');
console.log(`METRIC val_loss=${Number(valLoss.toPrecision(8))}`);
console.log(`METRIC train_seconds=${Number(seconds.toFixed(3))}`);
