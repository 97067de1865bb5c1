// Child processes of the e2e harness: run a command and collect its output, signal a process
// group, and find processes left behind under a run dir.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  /** Authenticate with this bearer token instead of the admin one. */
  token?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A child process whose output is collected; its stdin stays open until `end()`. */
export interface RunningProcess {
  readonly pid: number | undefined;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  write(data: string): void;
  /** Closes stdin (with `data` written first). */
  end(data?: string): void;
  kill(signal?: NodeJS.Signals): void;
  /** Settles when the process has exited and its output is closed; rejects if it could not start. */
  readonly done: Promise<ExecResult>;
}

/** Starts `bin`; SIGKILLed after `timeoutMs` (default 120 s). */
export function spawnProcess(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  o: { timeoutMs?: number; cwd?: string } = {},
): RunningProcess {
  const child = spawn(bin, args, { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const done = new Promise<ExecResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  return {
    pid: child.pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    write: (data) => void child.stdin.write(data),
    end: (data) => void child.stdin.end(data ?? ''),
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    done,
  };
}

/** Runs `bin` to completion with `o.input` on stdin. Never rejects for a non-zero exit: see `code`. */
export function runProcess(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  o: ExecOptions & { cwd?: string } = {},
): Promise<ExecResult> {
  const p = spawnProcess(bin, args, env, o);
  p.end(o.input);
  return p.done;
}

/** Signals a process group (a detached child's), or the process alone if it leads none. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** Processes whose command line mentions `dir` (the run dir): what a teardown must leave none of. */
export function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmd.includes(dir)) out.push({ pid: Number(entry), cmd: cmd.slice(0, 200) });
  }
  return out;
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
