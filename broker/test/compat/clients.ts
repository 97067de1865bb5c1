// The clients of the compatibility matrix: how to install each one (into caches outside the
// repository), how to run its driver, and what it cannot do at all (n/a cells, with the reason).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import type { ScenarioId } from './scenarios.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/broker/test/compat (compiled) or broker/test/compat (source). */
export const ROOT = HERE.split(path.sep).includes('dist')
  ? path.resolve(HERE, '../../../..')
  : path.resolve(HERE, '../../..');
const SOURCES = path.join(ROOT, 'broker/test/compat');
const DRIVERS = path.join(ROOT, 'dist/broker/test/compat/drivers');

/** Installed clients and compiled drivers live here, never in the repository. */
export const CACHE = process.env.RUNNEL_COMPAT_CACHE ?? path.join(os.homedir(), '.cache/runnel/compat');

export const JAVA_CLIENT_VERSION = '4.1.2';
export const CONFLUENT_KAFKA_VERSION = '2.16.1';

export type ClientId = 'java' | 'kcat' | 'python' | 'kafkajs' | 'platformatic';

export interface Command {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

export interface Client {
  id: ClientId;
  /** Installs what the client needs; throws with what is missing and how to get it. */
  prepare(log: (line: string) => void): Promise<void>;
  command(op: string, taskFile: string): Command;
  /** Each record carries its own headers and timestamp (kcat sets headers per run, and no timestamps). */
  perRecordHeadersAndTimestamps: boolean;
  /** Whether its default producer is idempotent: its plain produce must then store producer ids. */
  idempotentByDefault: boolean;
  /** Scenarios the client cannot express at all, with the reason. */
  notApplicable: Partial<Record<ScenarioId, string>>;
  /** Failures that are known and explained (a broker limitation not fixed yet); they do not fail the run. */
  known: Partial<Record<ScenarioId, string>>;
}

/** Runs a setup command, failing with its output. */
export function run(
  cmd: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} did not finish within ${options.timeoutMs / 1000} s:\n${output.slice(-3000)}`,
        ),
      );
    }, options.timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' ? `${cmd} is not installed (not on PATH)` : `${cmd}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
}

async function hashOf(files: string[], extra = ''): Promise<string> {
  const h = createHash('sha256');
  for (const f of files.sort()) h.update(f).update(await readFile(f));
  h.update(extra);
  return h.digest('hex').slice(0, 16);
}

async function filesUnder(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p, ext)));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out;
}

// ---- Java ------------------------------------------------------------------------------------

const JAVA_DIR = path.join(SOURCES, 'java');
let javaClasspath = '';

/** Fails, naming what is missing, unless a JDK (java, and javac when compiling) and Maven are on the PATH. */
export async function requireJdkAndMaven(what: string, tools = ['java', 'javac', 'mvn']): Promise<void> {
  for (const tool of tools) {
    await run(tool, ['-version'], { timeoutMs: 60_000 }).catch((e: Error) => {
      throw new Error(
        `${e.message.split('\n')[0]}: ${what} needs a JDK 17+ (${tools.filter((t) => t !== 'mvn').join(', ')}) and Maven (mvn)`,
      );
    });
  }
}

/**
 * The runtime classpath of `pom`'s dependencies, resolved by Maven (from Maven Central, the first
 * time) and remembered in `dir` under a name keyed by the pom and `properties` (passed to Maven as
 * -Dkey=value, e.g. a version, or maven.repo.local to keep the jars in `dir` too), so that later
 * runs start without Maven.
 */
export async function mavenClasspath(options: {
  pom: string;
  dir: string;
  what: string;
  log: (line: string) => void;
  properties?: Record<string, string>;
}): Promise<string> {
  const { pom, dir, properties = {} } = options;
  await mkdir(dir, { recursive: true });
  const defines = Object.entries(properties).map(([k, v]) => `-D${k}=${v}`);
  const cpFile = path.join(dir, `classpath-${await hashOf([pom], defines.join('\n'))}.txt`);
  if (!existsSync(cpFile)) {
    options.log(`resolving ${options.what} from Maven Central (first run only)`);
    const tmp = `${cpFile}.tmp`;
    await run('mvn', ['-B', '-q', '-f', pom, ...defines, 'dependency:build-classpath', `-Dmdep.outputFile=${tmp}`], {
      timeoutMs: 15 * 60_000,
    });
    await rename(tmp, cpFile);
  }
  const cp = (await readFile(cpFile, 'utf8')).trim();
  const missing = cp.split(path.delimiter).filter((j) => !existsSync(j));
  if (missing.length > 0) {
    // The local Maven repository was cleaned: resolve again next time.
    await rm(cpFile, { force: true });
    throw new Error(`jars on the cached classpath are gone (${missing[0]}); run again to fetch them`);
  }
  return cp;
}

async function prepareJava(log: (line: string) => void): Promise<void> {
  await requireJdkAndMaven('the Java client');
  const dir = path.join(CACHE, 'java');
  const cp = await mavenClasspath({
    pom: path.join(JAVA_DIR, 'pom.xml'),
    dir,
    what: `kafka-clients ${JAVA_CLIENT_VERSION}`,
    log,
  });
  const sources = await filesUnder(path.join(JAVA_DIR, 'src'), '.java');
  const classes = path.join(dir, `classes-${await hashOf(sources, cp)}`);
  if (!existsSync(classes)) {
    log('compiling the Java driver');
    const tmp = `${classes}.tmp-${process.pid}`;
    await run('javac', ['--release', '17', '-encoding', 'UTF-8', '-d', tmp, '-cp', cp, ...sources], {
      timeoutMs: 5 * 60_000,
    });
    await rename(tmp, classes);
  }
  javaClasspath = [classes, cp].join(path.delimiter);
}

// ---- confluent-kafka (Python) ------------------------------------------------------------------

const VENV = path.join(CACHE, `venv-confluent-kafka-${CONFLUENT_KAFKA_VERSION}`);
const VENV_PYTHON = path.join(VENV, 'bin/python');

async function preparePython(log: (line: string) => void): Promise<void> {
  const ready = path.join(VENV, '.runnel-ready');
  if (existsSync(ready)) return;
  const python = process.env.PYTHON ?? 'python3';
  log(`creating a venv with confluent-kafka ${CONFLUENT_KAFKA_VERSION} from PyPI (first run only)`);
  await rm(VENV, { recursive: true, force: true });
  await run(python, ['-m', 'venv', VENV], { timeoutMs: 5 * 60_000 }).catch((e: Error) => {
    throw new Error(
      `${e.message}\n(the Python client needs python3 with the venv module: apt-get install -y python3-venv)`,
    );
  });
  await run(
    VENV_PYTHON,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '-r',
      path.join(SOURCES, 'python/requirements.txt'),
    ],
    { timeoutMs: 10 * 60_000 },
  );
  await run(VENV_PYTHON, ['-c', 'import confluent_kafka'], { timeoutMs: 60_000 });
  await writeFile(ready, `${new Date().toISOString()}\n`);
}

// ---- Node drivers and kcat -----------------------------------------------------------------------

function nodeDriver(name: string): Command['args'] {
  return [path.join(DRIVERS, `${name}.js`)];
}

function prepareNodeDriver(name: string): Promise<void> {
  if (!existsSync(path.join(DRIVERS, `${name}.js`)))
    return Promise.reject(new Error(`${path.join(DRIVERS, name)}.js is missing: run npm run build first`));
  return Promise.resolve();
}

const zstdInNode = typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';

export const CLIENTS: readonly Client[] = [
  {
    id: 'java',
    prepare: prepareJava,
    command: (op, task) => ({
      cmd: 'java',
      args: [
        // A short-lived JVM: start fast, log the client's warnings to stderr.
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-Dorg.slf4j.simpleLogger.logFile=System.err',
        '-cp',
        javaClasspath,
        'runnel.compat.Driver',
        op,
        task,
      ],
    }),
    perRecordHeadersAndTimestamps: true,
    idempotentByDefault: true,
    notApplicable: {},
    known: {},
  },
  {
    id: 'kcat',
    prepare: async () => {
      await run('kcat', ['-V'], { timeoutMs: 30_000 }).catch((e: Error) => {
        throw new Error(`${e.message.split('\n')[0]} (apt-get install -y kcat)`);
      });
      await prepareNodeDriver('kcat');
    },
    command: (op, task) => ({ cmd: process.execPath, args: [...nodeDriver('kcat'), op, task] }),
    perRecordHeadersAndTimestamps: false,
    idempotentByDefault: false,
    notApplicable: { admin: 'kcat has no admin operations (only metadata, -L)' },
    known: {},
  },
  {
    id: 'python',
    prepare: preparePython,
    command: (op, task) => ({
      cmd: VENV_PYTHON,
      args: [path.join(SOURCES, 'python/driver.py'), op, task],
      env: { PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
    }),
    perRecordHeadersAndTimestamps: true,
    idempotentByDefault: false,
    notApplicable: {},
    known: {},
  },
  {
    id: 'kafkajs',
    prepare: () => prepareNodeDriver('kafkajs'),
    command: (op, task) => ({ cmd: process.execPath, args: [...nodeDriver('kafkajs'), op, task] }),
    perRecordHeadersAndTimestamps: true,
    idempotentByDefault: false,
    notApplicable: {
      snappy: 'kafkajs 2.2.4 has gzip built in; snappy needs a codec plugin (kafkajs-snappy) that is not installed',
      lz4: 'kafkajs 2.2.4 has gzip built in; lz4 needs a codec plugin (kafkajs-lz4) that is not installed',
      zstd: 'kafkajs 2.2.4 has gzip built in; zstd needs a codec plugin (@kafkajs/zstd) that is not installed',
    },
    known: {},
  },
  {
    id: 'platformatic',
    prepare: () => prepareNodeDriver('platformatic'),
    command: (op, task) => ({ cmd: process.execPath, args: [...nodeDriver('platformatic'), op, task] }),
    perRecordHeadersAndTimestamps: true,
    idempotentByDefault: false,
    notApplicable: zstdInNode
      ? {}
      : {
          zstd: `@platformatic/kafka 1.x compresses zstd with node:zlib, which has it from Node 22.15 (this is Node ${process.versions.node})`,
        },
    known: {},
  },
];
