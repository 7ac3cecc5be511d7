/**
 * A terminal progress bar for the demo's long steps. On a TTY it redraws one line in place;
 * elsewhere (CI logs, pipes) it degrades to plain lines, one per tenth of the work, so a log
 * shows progress without carriage-return noise. `silentProgress` prints nothing (tests).
 */

/** Where progress goes: the demo asks for one task per long step. */
export interface ProgressSink {
  start(label: string, total: number): ProgressTask;
}

export interface ProgressTask {
  /** Sets the amount done (0…total); an optional note is shown after the bar. */
  update(done: number, note?: string): void;
  /** Marks the task complete and prints its elapsed time. */
  finish(note?: string): void;
}

interface Output {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** A progress sink writing to `out` (default process.stdout). */
export function terminalProgress(out: Output = process.stdout): ProgressSink {
  return {
    start(label, total) {
      const began = performance.now();
      const tty = out.isTTY === true;
      let lastTenth = -1;
      let lastDraw = 0;
      const draw = (done: number, note: string): void => {
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const elapsed = performance.now() - began;
        const eta = frac > 0 && frac < 1 ? ` eta ${seconds((elapsed * (1 - frac)) / frac)}` : '';
        const head = `${label.padEnd(48)} `;
        const tail =
          ` ${String(Math.round(frac * 100)).padStart(3)}% ` +
          `${seconds(elapsed)}${eta}${note === '' ? '' : `  ${note}`}`;
        const width = Math.max(10, Math.min(30, (out.columns ?? 100) - head.length - tail.length - 2));
        const filled = Math.round(frac * width);
        out.write(`\r${head}[${'█'.repeat(filled)}${'·'.repeat(width - filled)}]${tail}\x1b[K`);
      };
      return {
        update(done, note = '') {
          if (tty) {
            // redraw at most ~10 times a second: writing is not free on slow terminals
            const now = performance.now();
            if (now - lastDraw < 100 && done < total) return;
            lastDraw = now;
            draw(done, note);
            return;
          }
          const tenth = total > 0 ? Math.floor((10 * done) / total) : 10;
          if (tenth > lastTenth && tenth < 10) {
            lastTenth = tenth;
            out.write(
              `${label}: ${done}/${total} (${tenth * 10}%) ` +
                `${seconds(performance.now() - began)}${note === '' ? '' : ` ${note}`}\n`,
            );
          }
        },
        finish(note = '') {
          const elapsed = seconds(performance.now() - began);
          if (tty) {
            draw(total, note);
            out.write('\n');
          } else {
            out.write(`${label}: done in ${elapsed}${note === '' ? '' : ` ${note}`}\n`);
          }
        },
      };
    },
  };
}

/** Prints nothing. */
export const silentProgress: ProgressSink = {
  start: () => ({ update: () => undefined, finish: () => undefined }),
};
