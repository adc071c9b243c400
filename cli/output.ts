const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Where command output goes. Text mode prints lines, and on a terminal a spinner line that the next printed line
 * replaces (CI logs get plain lines only). `--output json` prints one JSON document on stdout; the progress lines
 * then go to stderr, so a pipeline log still shows a release live while a script reads the JSON.
 */
export class Output {
  private spinnerText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  constructor(
    readonly json: boolean,
    private readonly stream: NodeJS.WriteStream = process.stdout,
    readonly tty = Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb' && !process.env.CI,
  ) {}

  line(text = ''): void {
    if (this.json) {
      process.stderr.write(`${text}\n`);
      return;
    }
    this.clearSpinner();
    this.stream.write(`${text}\n`);
    this.drawSpinner();
  }

  data(value: unknown): void {
    if (this.json) this.stream.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Text for the terminal's progress line; ignored in CI logs and JSON mode. */
  progress(text: string | undefined): void {
    if (this.json || !this.tty) return;
    this.spinnerText = text;
    if (text && !this.timer) {
      this.timer = setInterval(() => this.drawSpinner(), 100);
      this.timer.unref();
    }
    if (!text) this.stop();
    else this.drawSpinner();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearSpinner();
    this.spinnerText = undefined;
  }

  private drawSpinner(): void {
    if (!this.spinnerText || !this.tty) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    this.stream.write(`\r\x1b[K${FRAMES[this.frame]} ${this.spinnerText}`);
  }

  private clearSpinner(): void {
    if (this.spinnerText && this.tty) this.stream.write('\r\x1b[K');
  }
}

/** Left-aligned columns; the last column is not padded. */
export function table(headers: string[], rows: Array<Array<string | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => c ?? '-'))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

export const short = (sha: string | null | undefined, n = 12) => (sha ? sha.slice(0, n) : null);

/** "3m ago", "2h ago", or the date for older times. */
export function ago(iso: string | null | undefined, now = Date.now()): string | null {
  if (!iso) return null;
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return iso;
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return iso.slice(0, 10);
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
