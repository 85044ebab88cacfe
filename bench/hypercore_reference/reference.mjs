// The reference figures for bench/bench_ledger.py: the real hypercore@11.37.1 on this machine.
// Prints one JSON object: blocks/s for batched appends, single appends, and a replicated read
// (blocks sent with their proofs to a second core over an in-process stream, then verified).
import Hypercore from 'hypercore'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ENTRY = Buffer.from(JSON.stringify({ type: 'growr/payment', v: 1, key: 'payment:000000', value: { amount: '12.50', currency: 'KES', pad: 'x'.repeat(96) } }).slice(0, 200))
const TOTAL = Number(process.env.BENCH_TOTAL || 100000)
const SINGLE = Number(process.env.BENCH_SINGLE || 2000)

async function fresh () {
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-'))
  const core = new Hypercore(dir)
  await core.ready()
  return { core, dir }
}

async function appendRate (batchSize, total) {
  const { core, dir } = await fresh()
  const batch = new Array(batchSize).fill(ENTRY)
  const started = process.hrtime.bigint()
  for (let n = 0; n < total; n += batchSize) await core.append(batchSize === 1 ? ENTRY : batch)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { core, dir, rate: total / seconds }
}

async function replicatedReadRate (source) {
  const { core: reader, dir } = await fresh().then(async () => {
    const d = mkdtempSync(join(tmpdir(), 'hc-bench-'))
    const c = new Hypercore(d, source.key)
    await c.ready()
    return { core: c, dir: d }
  })
  const a = source.replicate(true)
  const b = reader.replicate(false)
  a.pipe(b).pipe(a)
  const started = process.hrtime.bigint()
  await reader.download({ start: 0, end: source.length }).done()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await reader.close()
  rmSync(dir, { recursive: true, force: true })
  return source.length / seconds
}

const result = { package: 'hypercore@11.37.1', entry_bytes: ENTRY.length }
for (const size of [1000, 100]) {
  const { core, dir, rate } = await appendRate(size, TOTAL)
  result[`append_batch_${size}`] = rate
  if (size === 1000) result.replicated_read = await replicatedReadRate(core)
  await core.close()
  rmSync(dir, { recursive: true, force: true })
}
const single = await appendRate(1, SINGLE)
result.append_batch_1 = single.rate
await single.core.close()
rmSync(single.dir, { recursive: true, force: true })
console.log(JSON.stringify(result))
