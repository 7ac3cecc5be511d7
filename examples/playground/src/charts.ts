/**
 * The loss curve, drawn on a canvas (it is redrawn every frame and can hold thousands of
 * steps); its axes, ticks and labels come from the shared chart module, like the page's SVG charts.
 */
import { makeAxis } from '../../charts';

/** Draws the loss curve on a canvas: raw losses light, their running mean dark, log y. */
export function drawLoss(canvas: HTMLCanvasElement, losses: readonly number[], smooth: readonly number[]): void {
  const ctx = canvas.getContext('2d');
  if (ctx === null) return;
  const { width, height } = canvas;
  const pad = { left: 46, right: 10, top: 10, bottom: 22 };
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const y = makeAxis(losses, [height - pad.bottom, pad.top], { log: true, count: 4 });
  if (!losses.some((v) => y.accepts(v))) return;
  const x = makeAxis([1, losses.length], [pad.left, width - pad.right], { tight: true, count: 6, integer: true });
  ctx.font = '10px system-ui, sans-serif';
  ctx.lineWidth = 1;
  const rule = (x0: number, y0: number, x1: number, y1: number, colour: string): void => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  };
  ctx.fillStyle = '#333';
  ctx.textAlign = 'right';
  for (const t of y.ticks) {
    rule(pad.left, y.map(t.value), width - pad.right, y.map(t.value), t.label === '' ? '#f6f6f6' : '#e8e8e8');
    if (t.label !== '') ctx.fillText(t.label, pad.left - 4, y.map(t.value) + 3);
  }
  ctx.fillText('step', pad.left - 4, height - 6);
  ctx.textAlign = 'center';
  for (const t of x.ticks) {
    rule(x.map(t.value), pad.top, x.map(t.value), height - pad.bottom, '#f0f0f0');
    ctx.fillText(t.label, x.map(t.value), height - 6);
  }
  const line = (values: readonly number[], colour: string, lineWidth: number): void => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = lineWidth;
    ctx.beginPath();
    let drawing = false;
    values.forEach((v, i) => {
      // a value the log axis cannot show breaks the line
      if (!y.accepts(v)) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(x.map(i + 1), y.map(v));
      else ctx.moveTo(x.map(i + 1), y.map(v));
      drawing = true;
    });
    ctx.stroke();
  };
  line(losses, '#9ecae1', 1);
  line(smooth, '#08519c', 2);
  ctx.lineWidth = 1;
}
