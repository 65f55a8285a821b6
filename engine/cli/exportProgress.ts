// Progress for `attnscope export`: on a terminal, one bar redrawn in place with the rate
// and ETA (failures printed above it); otherwise one plain line per image, for logs.

interface Out { write(s: string): unknown; isTTY?: boolean; columns?: number }

const REDRAW_MS = 100;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class Progress {
  private finished = 0;
  private failures = 0;
  private startedAt = 0;
  private lastDraw = 0;
  private barShown = false;
  private readonly tty: boolean;

  constructor(private readonly out: Out, private readonly total: number, private readonly quiet: boolean) {
    this.tty = out.isTTY === true;
  }

  /** A message line (kept above the bar). */
  note(msg: string): void {
    if (this.quiet) return;
    this.clearBar();
    this.out.write(`${msg}\n`);
    this.draw(true);
  }

  begin(model: string, engines: number): void {
    this.startedAt = performance.now();
    this.note(`Exporting ${this.total} image(s) with ${model} on ${engines} engine${engines === 1 ? '' : 's'}.`);
  }

  done(name: string, written: number, kept: number): void {
    this.finished += 1;
    if (this.quiet) return;
    if (this.tty) { this.draw(false); return; }
    this.out.write(`[${this.finished}/${this.total}] ok ${name} (${written} written${kept ? `, ${kept} kept` : ''}) ${this.rateText()}\n`);
  }

  failed(name: string, reason: string): void {
    this.finished += 1;
    this.failures += 1;
    // Failures are shown even with --quiet: they are what the user must act on.
    this.clearBar();
    this.out.write(`[${this.finished}/${this.total}] FAILED ${name}: ${reason}\n`);
    this.draw(true);
  }

  end(): void {
    if (this.tty && !this.quiet) { this.draw(true); this.out.write('\n'); this.barShown = false; }
  }

  private rate(): number {
    const s = (performance.now() - this.startedAt) / 1000;
    return this.startedAt > 0 && s > 0 ? this.finished / s : 0;
  }

  private rateText(): string {
    const r = this.rate();
    return `${r.toFixed(2)} img/s, ETA ${formatDuration(r > 0 ? (this.total - this.finished) / r : Infinity)}`;
  }

  private clearBar(): void {
    if (this.tty && this.barShown) { this.out.write('\r\x1b[2K'); this.barShown = false; }
  }

  private draw(force: boolean): void {
    if (!this.tty || this.quiet || this.startedAt === 0) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < REDRAW_MS && this.finished < this.total) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 50));
    const filled = this.total > 0 ? Math.round((this.finished / this.total) * width) : width;
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const fails = this.failures ? `, ${this.failures} failed` : '';
    this.out.write(`\r\x1b[2K[${bar}] ${this.finished}/${this.total}${fails}  ${this.rateText()}`);
    this.barShown = true;
  }
}
