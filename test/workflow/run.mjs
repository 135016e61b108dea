// Runs statemachine/migration.asl.json locally with aws-local-stepfunctions.
// Every Lambda Task state is routed to a real essnap bootstrap running under
// the Lambda Runtime Interface Emulator (one 127.0.0.1 port per function);
// an answer carrying errorType is thrown as an Error of that name, so the
// definition's Retry and Catch match exactly as on AWS. The pull strategy's
// SwitchPoller state (sns:publish.waitForTaskToken on AWS) prints a
// switch_requested line with its task token and waits for the answer on
// standard input, the local stand-in for send-task-success/-failure:
//   {"task_token":"...","output":{"switched":true}}
//   {"task_token":"...","error":"NotSwitched","cause":"why"}
// or answers itself with --switch auto.
//
// Usage: node run.mjs --definition FILE --input FILE
//          --function Preflight=http://127.0.0.1:9400 ... [--wait-ms N]
//          [--retry-ms N] [--switch stdin|auto] [--execution NAME]
// Output: one JSON object per line (states with the size of their input,
// retries, the switch request) and
// last {"event":"result","status":"SUCCEEDED"|"FAILED",...}. Exit 0 when the
// execution succeeded, 1 when it failed, 2 when the runner itself broke.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22); Node 20 lacks it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
const { StateMachine } = await import('aws-local-stepfunctions');

const args = { function: [] };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  const v = process.argv[++i];
  if (v === undefined) fail(`--${k} needs a value`);
  if (k === 'function') args.function.push(v); else args[k] = v;
}
function fail(msg) { process.stderr.write(`run.mjs: ${msg}\n`); process.exit(2); }
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
if (!args.definition || !args.input) fail('--definition and --input are required');

const urls = {};
for (const f of args.function) {
  const [name, url] = f.split('=');
  if (!name || !url) fail(`--function ${f}: want Name=http://127.0.0.1:PORT`);
  urls[name] = url.replace(/\/$/, '');
}
const account = '123456789012', region = 'us-east-1';
// Fill the SAM DefinitionSubstitutions the way the stack would.
const text = readFileSync(args.definition, 'utf8').replace(/\$\{(\w+)FunctionArn\}/g, (_, n) => `arn:aws:lambda:${region}:${account}:function:essnap-${n}`)
  .replace(/\$\{MigrationTopicArn\}/g, `arn:aws:sns:${region}:${account}:essnap-migration`);
const definition = JSON.parse(text);
const input = JSON.parse(readFileSync(args.input, 'utf8'));

async function invoke(fn, payload) {
  const url = urls[fn];
  if (!url) throw Object.assign(new Error(`no --function ${fn}=URL given`), { name: 'Lambda.ResourceNotFoundException' });
  let res;
  try {
    res = await fetch(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: JSON.stringify(payload) });
  } catch (e) {
    throw Object.assign(new Error(`invoke ${fn} at ${url}: ${e.cause?.message ?? e.message}`), { name: 'Lambda.ServiceException' });
  }
  const body = await res.text();
  let out;
  try { out = JSON.parse(body); } catch { throw Object.assign(new Error(`${fn} answered ${res.status} non-JSON: ${body.slice(0, 300)}`), { name: 'Lambda.ServiceException' }); }
  if (out && typeof out === 'object' && typeof out.errorType === 'string') {
    // Lambda reports a function error as Error = errorType, Cause = the payload.
    throw Object.assign(new Error(out.errorMessage ?? ''), { name: out.errorType });
  }
  return out;
}

// Answers to SwitchPoller arrive on stdin, one JSON object per line.
const waiting = new Map();
if (args.switch !== 'auto') {
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (!line.trim()) return;
    let a;
    try { a = JSON.parse(line); } catch { emit({ event: 'answer_rejected', reason: 'not JSON', line }); return; }
    const w = waiting.get(a.task_token);
    if (!w) { emit({ event: 'answer_rejected', reason: 'unknown task token', task_token: a.task_token }); return; }
    waiting.delete(a.task_token);
    if (a.error) w.reject(Object.assign(new Error(a.cause ?? ''), { name: a.error }));
    else w.resolve(a.output ?? {});
  });
}

const handlers = {};
const waits = {};
const retries = {};
for (const [name, st] of Object.entries(definition.States)) {
  if (st.Type === 'Wait' && args['wait-ms'] !== undefined) waits[name] = Number(args['wait-ms']);
  if (st.Type !== 'Task') continue;
  if (args['retry-ms'] !== undefined) retries[name] = Number(args['retry-ms']);
  const m = /:function:essnap-(\w+)$/.exec(st.Resource);
  if (m) {
    handlers[name] = (payload) => invoke(m[1], payload);
  } else if (st.Resource.endsWith('.waitForTaskToken')) {
    handlers[name] = (params) => {
      const msg = params.Message ?? {};
      emit({ event: 'switch_requested', state: name, task_token: msg.task_token, message: msg });
      if (args.switch === 'auto') return { switched: true, answered_by: 'run.mjs --switch auto' };
      return new Promise((resolve, reject) => waiting.set(msg.task_token, { resolve, reject }));
    };
  } else {
    fail(`Task state ${name} has resource ${st.Resource}, which this runner cannot route`);
  }
}

const execName = args.execution ?? `local-${randomUUID()}`;
const sm = new StateMachine(definition, { validationOptions: { checkArn: false } });
const execution = sm.run(input, {
  overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries },
  context: {
    Execution: { Id: `arn:aws:states:${region}:${account}:execution:essnap-migration:${execName}`, Name: execName },
    Task: { Token: `local-task-token-${randomUUID()}` },
  },
});
const started = Date.now();
const logs = (async () => {
  for await (const ev of execution.eventLogs) {
    switch (ev.type) {
      case 'StateEntered': emit({ event: 'state_entered', state: ev.state.name, t: (ev.timestamp - started) / 1000, input_bytes: Buffer.byteLength(JSON.stringify(ev.state.input ?? null)) }); break;
      case 'StateRetried': emit({ event: 'state_retried', state: ev.state.name, attempt: ev.retry.attempt }); break;
      case 'StateFailed': emit({ event: 'state_failed', state: ev.state.name, error: ev.Error, cause: String(ev.Cause).slice(0, 2000) }); break;
      case 'StateCaught': emit({ event: 'state_caught', state: ev.state.name }); break;
    }
  }
})();
let code = 0;
let result;
try {
  const output = await execution.result;
  result = { event: 'result', status: 'SUCCEEDED', seconds: (Date.now() - started) / 1000, output };
} catch (e) {
  const cause = e.cause ?? e;
  result = { event: 'result', status: 'FAILED', seconds: (Date.now() - started) / 1000, error: cause.name, cause: cause.message };
  code = 1;
}
// The event log can lag behind the result (a run without Wait states ends
// before its last state_entered line is out): drain it first, so the
// result is the last line, as promised above.
await logs.catch(() => {});
// Exit only once stdout has taken the last line: a pipe takes 64 KB at a
// time, and process.exit right after a larger write cut it in the middle.
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(code));
