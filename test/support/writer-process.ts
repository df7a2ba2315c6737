import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The parent's side of `writer-child.ts`: starts a child writer process, keeps its complete
 * output lines, and waits for the lines tests care about.
 */

const CHILD_PATH = fileURLToPath(new URL('./writer-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The content of file `index` written by process `pid`: both sides compute it. */
export function childContent(pid: number, index: number): string {
  return `written by ${pid} as file ${index} `.repeat(1 + (index % 7));
}

export class WriterProcess {
  readonly lines: string[] = [];
  private partial = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<void>;
  private waiters: (() => void)[] = [];
  stderr = '';

  constructor(
    path: string,
    mode: 'write' | 'cycle',
    count = -1,
    durability: 'full' | 'normal' | 'off' = 'full',
  ) {
    const args = ['--import', 'tsx', CHILD_PATH, path, mode, String(count), durability];
    this.child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      const text = this.partial + chunk;
      const complete = text.split('\n');
      this.partial = complete.pop() ?? '';
      this.lines.push(...complete);
      this.notify();
    });
    this.child.stderr.on('data', (chunk: string) => {
      if (this.stderr.length < 4000) this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', () => {
        this.notify();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Lets the child past its barrier. */
  go(): void {
    this.child.stdin.write('go\n');
  }

  /** Indices the child acknowledged, in order. */
  acknowledged(): number[] {
    return this.lines.filter((line) => line.startsWith('ack ')).map((line) => Number(line.slice(4)));
  }

  /** Waits until a line satisfies `predicate` or the child exits; true when one did. */
  async waitFor(predicate: (line: string) => boolean, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.lines.some(predicate)) return true;
      if (this.child.exitCode !== null || this.child.signalCode !== null) return false;
      if (Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async exit(): Promise<void> {
    await this.exited;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
