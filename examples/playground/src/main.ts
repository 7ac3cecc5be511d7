/**
 * The playground page: reads the controls, drives the training worker (see worker.ts) and
 * draws what it reports. Changing any control starts a fresh run from the seed; Start/Pause
 * continue the same run, so a paused run resumes exactly where it stopped.
 */
import { barChart, colorLegend, heatmap, lineChart, sharedLimit } from '../../charts';
import { drawLoss } from './charts';
import type { FromWorker, ToWorker } from './protocol';
import { PLAYGROUND_VARIANTS, type PlaygroundVariant, type RunConfig, type Snapshot, type Task } from './trainer';

const byId = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`playground: no element #${id}`);
  return el as T;
};

const controls = {
  task: byId<HTMLSelectElement>('task'),
  variant: byId<HTMLSelectElement>('variant'),
  n: byId<HTMLInputElement>('n'),
  depth: byId<HTMLInputElement>('depth'),
  lr: byId<HTMLInputElement>('lr'),
  seed: byId<HTMLInputElement>('seed'),
};
const view = {
  status: byId('status'),
  step: byId('step'),
  firstLoss: byId('first-loss'),
  loss: byId('loss'),
  rate: byId('rate'),
  threads: byId('threads'),
  error: byId('error'),
  lossCurve: byId<HTMLCanvasElement>('loss-curve'),
  heatmaps: byId('heatmaps'),
  legend: byId('legend'),
  composite: byId('composite-gain'),
  identity: byId('identity-distance'),
};

const SMOOTHING = 10;

function readInt(input: HTMLInputElement, lo: number, hi: number, fallback: number): number {
  const v = Math.round(Number(input.value));
  const clamped = Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
  input.value = String(clamped);
  return clamped;
}

/** The run the controls describe, with out-of-range numbers clamped (and shown clamped). */
function readConfig(): RunConfig {
  const variant = controls.variant.value as PlaygroundVariant;
  if (!PLAYGROUND_VARIANTS.includes(variant)) throw new Error(`playground: unknown variant ${variant}`);
  let lr = Number(controls.lr.value);
  if (!(lr > 0 && lr <= 1)) {
    lr = 3e-3;
    controls.lr.value = String(lr);
  }
  return {
    task: controls.task.value as Task,
    variant,
    // mHC-lite mixes all n! permutations: the layer refuses n > 8 (KromHC a prime factor above 8)
    n: readInt(controls.n, 1, 8, 4),
    depth: readInt(controls.depth, 1, 24, 8),
    lr,
    seed: readInt(controls.seed, 0, 2 ** 31 - 1, 0),
  };
}

let run = 0;
/** The model of the current run (it names the heatmaps). */
let shownTask: Task = 'mlp';
let losses: number[] = [];
let smooth: number[] = [];
let rate = { steps: 0, since: performance.now() };
let drawQueued = false;
let pendingSnapshot: Snapshot | null = null;

function setStatus(status: 'idle' | 'ready' | 'running' | 'paused' | 'error'): void {
  view.status.textContent = status;
  view.status.dataset.status = status;
}

/** Batches redraws into animation frames: the worker may report faster than the screen refreshes. */
function queueDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function draw(): void {
  view.step.textContent = String(losses.length);
  const last = smooth[smooth.length - 1];
  view.loss.textContent = last === undefined ? '–' : last.toFixed(4);
  view.loss.dataset.value = last === undefined ? '' : String(last);
  view.firstLoss.textContent = losses[0] === undefined ? '–' : losses[0].toFixed(4);
  view.firstLoss.dataset.value = losses[0] === undefined ? '' : String(losses[0]);
  drawLoss(view.lossCurve, losses, smooth);
  if (pendingSnapshot !== null) drawSnapshot(pendingSnapshot);
  pendingSnapshot = null;
}

function drawSnapshot(s: Snapshot): void {
  // one colour scale for all layers: at least ±1, the identity's diagonal
  const limit = Math.max(1, sharedLimit(s.hRes.flat(2)));
  const n = s.hRes[0]?.length ?? 1;
  const cell = Math.max(8, Math.min(28, Math.floor(112 / n)));
  view.heatmaps.replaceChildren(
    ...s.hRes.map((h, k) => {
      const figure = document.createElement('figure');
      const caption = document.createElement('figcaption');
      // the transformer's connections alternate attention and MLP branches (see TinyTransformer)
      caption.textContent =
        shownTask === 'transformer'
          ? `block ${Math.floor(k / 2) + 1} ${k % 2 === 0 ? 'attn' : 'MLP'}`
          : `layer ${k + 1}`;
      figure.innerHTML = heatmap(h, {
        limit,
        cell,
        tooltip: (i, j, v) => `H[${i}][${j}] = ${v.toFixed(4)}`,
        attrs: { 'data-testid': 'heatmap', 'aria-label': `H_res of ${caption.textContent}` },
      });
      figure.append(caption);
      return figure;
    }),
  );
  view.legend.innerHTML = colorLegend(limit);
  const depths = (values: readonly number[]): [number, number][] => values.map((v, i) => [i + 1, v]);
  view.composite.innerHTML = lineChart({
    xLabel: 'depth d (layers in the product)',
    series: [
      { name: 'forward gain', color: '#b2182b', points: depths(s.compositeForwardGain) },
      { name: 'backward gain', color: '#2166ac', points: depths(s.compositeBackwardGain), dashed: true },
    ],
    logY: true,
    markers: true,
    referenceY: [{ y: 1, label: 'gain 1' }],
    legend: 'top',
    xTicks: 12,
    xInteger: true,
    width: 540,
    height: 220,
  });
  view.identity.innerHTML = barChart({
    xLabel: 'layer',
    bars: s.identityDistance.map((v, i) => ({
      name: String(i + 1),
      color: '#4d9221',
      value: v,
      tooltip: `layer ${i + 1}: ${v.toFixed(4)}`,
    })),
    valueLabels: false,
    yTicks: 3,
    width: 1100,
    height: 160,
  });
}

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (msg: ToWorker): void => worker.postMessage(msg);

worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
  switch (data.type) {
    case 'ready':
      // every control change resets: only the latest run's readiness counts
      if (data.run === run) setStatus('ready');
      break;
    case 'progress': {
      // a slice from before a reset could still be in flight: keep only the current run's steps
      if (data.run !== run || data.firstStep !== losses.length + 1) return;
      for (const loss of data.losses) {
        losses.push(loss);
        const recent = losses.slice(-SMOOTHING);
        smooth.push(recent.reduce((a, b) => a + b, 0) / recent.length);
      }
      if (data.snapshot !== null) pendingSnapshot = data.snapshot;
      const now = performance.now();
      if (now - rate.since > 1000) {
        view.rate.textContent = ((1000 * (losses.length - rate.steps)) / (now - rate.since)).toFixed(1);
        rate = { steps: losses.length, since: now };
      }
      queueDraw();
      break;
    }
    case 'running':
      if (data.run === run) setStatus('running');
      break;
    case 'paused':
      if (data.run === run) setStatus('paused');
      break;
    case 'error':
      setStatus('error');
      view.error.textContent = data.message;
      break;
    case 'threads':
      view.threads.textContent =
        data.host === 'web'
          ? `${data.threads} (${data.loaded} worker${data.loaded === 1 ? '' : 's'} loaded)`
          : `1 (${data.isolated ? 'no worker threads here' : 'page not cross-origin isolated'})`;
      view.threads.dataset.loaded = String(data.loaded);
      break;
  }
};
// `?threads=k` opts in to k threads for big products (the playground's are small: 1 by default)
const threads = Number(new URLSearchParams(location.search).get('threads') ?? '1');
send({ type: 'threads', threads: Number.isInteger(threads) && threads >= 1 ? threads : 1 });

worker.onerror = (event) => {
  setStatus('error');
  view.error.textContent = `worker failed: ${event.message}`;
};

/** A fresh run from the controls: clears everything drawn. */
function reset(): void {
  losses = [];
  smooth = [];
  pendingSnapshot = null;
  rate = { steps: 0, since: performance.now() };
  view.error.textContent = '';
  view.heatmaps.replaceChildren();
  view.composite.replaceChildren();
  view.identity.replaceChildren();
  view.legend.replaceChildren();
  view.rate.textContent = '–';
  setStatus('idle');
  draw();
  const config = readConfig();
  shownTask = config.task;
  send({ type: 'reset', run: ++run, config });
}

byId('start').addEventListener('click', () => send({ type: 'start' }));
byId('pause').addEventListener('click', () => send({ type: 'pause' }));
byId('reset').addEventListener('click', reset);
for (const el of Object.values(controls)) el.addEventListener('change', reset);
reset();
