#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node): the independent oracle for edgeinfer's
// outputs and its peer in benchmarks.
//
// usage: node ort_run.js --model M.onnx [--input NAME=FILE.npy ...] [--out DIR]
//                        [--threads N] [--repeat N] [--warmup N] [--compare DIR] [--summary]
//                        [--profile]
// Inputs not given are an error. With --out, each output is written as DIR/<index>.npy and
// listed in the JSON report printed on stdout:
//   {"outputs":[{"name":..., "file":..., "dims":[...]}], "load_ms":..., "first_run_ms":...,
//    "run_ms":[...], "rss_mb":...}
// load_ms is session creation (read, optimise, compile); first_run_ms the first run (the first
// warm-up run, or the first timed run with --warmup 0).
// --compare DIR adds "rel_l2" to each output: ||ours - ort|| / ||ort|| against DIR/<name>.npy
// (as written by 'edgeinfer run --save-outputs DIR'). --summary prints one human line instead.
// --profile enables ONNX Runtime's profiler for the timed runs and adds "profile": one entry per
// executed node in order, {"name", "op", "ms"} with ms the median kernel time over the timed runs.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const DTYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim())
      .filter(s => s.length).map(Number);
  if (!(descr in DTYPES)) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [type, Arr] = DTYPES[descr];
  const offset = start + headerLen;
  const bytes = buf.subarray(offset);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const data = new Arr(copy.buffer, 0, bytes.length / Arr.BYTES_PER_ELEMENT);
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(data).map(v => v !== 0) : data, shape);
}

function writeNpy(file, tensor) {
  const map = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1',
                int8: '|i1', bool: '|b1' };
  const descr = map[tensor.type];
  if (!descr) throw new Error(`cannot write ${tensor.type}`);
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let data = tensor.data;
  if (tensor.type === 'bool') data = Uint8Array.from(data, v => (v ? 1 : 0));
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

function parseArgs(argv) {
  const a = { inputs: [], threads: 1, repeat: 1, warmup: 0 };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--model') a.model = v();
    else if (k === '--input') a.inputs.push(v());
    else if (k === '--out') a.out = v();
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--repeat') a.repeat = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--compare') a.compare = v();
    else if (k === '--summary') a.summary = true;
    else if (k === '--profile') a.profile = true;
    else throw new Error(`unknown flag ${k}`);
  }
  if (!a.model) throw new Error('--model is required');
  return a;
}

// Median kernel time of each node over the timed runs, from the profile ONNX Runtime wrote.
function readProfile(session, dir, warmup) {
  session.endProfiling();
  const file = fs.readdirSync(dir).find(f => f.endsWith('.json'));
  if (!file) throw new Error('ONNX Runtime wrote no profile');
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  // Node events precede the model_run event that closes their run.
  let current = [];
  const perRun = [];
  for (const e of events) {
    if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
      current.push({ name: e.name.slice(0, -'_kernel_time'.length), op: e.args.op_name, us: e.dur });
    } else if (e.cat === 'Session' && e.name === 'model_run') {
      perRun.push(current);
      current = [];
    }
  }
  const timed = perRun.slice(warmup);
  if (timed.length === 0) return [];
  return timed[0].map((node, i) => {
    const us = timed.map(r => (r[i] ? r[i].us : 0)).sort((x, y) => x - y);
    return { name: node.name, op: node.op, ms: us[Math.floor(us.length / 2)] / 1000 };
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const t0 = process.hrtime.bigint();
  const options = {
    graphOptimizationLevel: 'all', intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  let profileDir;
  if (a.profile) {
    profileDir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'ort_profile_'));
    options.enableProfiling = true;
    options.profileFilePrefix = path.join(profileDir, 'ort');
  }
  const session = await ort.InferenceSession.create(a.model, options);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  for (const spec of a.inputs) {
    const eq = spec.indexOf('=');
    feeds[spec.slice(0, eq)] = readNpy(spec.slice(eq + 1));
  }
  let firstRunMs;
  for (let i = 0; i < a.warmup; ++i) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    if (i === 0) firstRunMs = Number(process.hrtime.bigint() - s) / 1e6;
  }
  const runMs = [];
  let results;
  for (let i = 0; i < Math.max(1, a.repeat); ++i) {
    const s = process.hrtime.bigint();
    results = await session.run(feeds);
    runMs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const outputs = [];
  session.outputNames.forEach((name, i) => {
    const entry = { name, dims: results[name].dims, type: results[name].type };
    if (a.out) {
      entry.file = path.join(a.out, `${i}.npy`);
      writeNpy(entry.file, results[name]);
    }
    if (a.compare) {
      const safe = name.replace(/[/\\:]/g, '_');
      const ours = readNpy(path.join(a.compare, `${safe}.npy`)).data;
      const ref = results[name].data;
      let num = 0, den = 0;
      for (let j = 0; j < ref.length; ++j) {
        num += (Number(ours[j]) - Number(ref[j])) ** 2;
        den += Number(ref[j]) ** 2;
      }
      entry.rel_l2 = ours.length === ref.length ? Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30)
                                                : Infinity;
    }
    outputs.push(entry);
  });
  const rssMb = process.resourceUsage().maxRSS / 1024;
  if (firstRunMs === undefined) firstRunMs = runMs[0];
  const report = { outputs, load_ms: loadMs, first_run_ms: firstRunMs, run_ms: runMs, rss_mb: rssMb };
  if (a.profile) report.profile = readProfile(session, profileDir, a.warmup);
  if (a.summary) {
    const sorted = [...runMs].sort((x, y) => x - y);
    let line = `onnxruntime ${ort.env.versions.common}: median ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} ms` +
        ` over ${runMs.length} runs (${a.threads} thread${a.threads === 1 ? '' : 's'})`;
    for (const o of outputs) {
      if ('rel_l2' in o) line += `\n  ${o.name}: relative L2 difference from edgeinfer ${o.rel_l2.toExponential(2)}`;
    }
    process.stdout.write(line + '\n');
    return;
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch(e => { process.stderr.write(`ort_run: ${e.message}\n`); process.exit(1); });
