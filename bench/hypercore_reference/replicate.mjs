// The reference for the replication benchmark: the real hypercore@11.37.1 on this machine.
// A writer core holds N blocks of S bytes; an empty reader core with the writer's key downloads
// all of them over a TCP loopback connection, verifying every block's proof and the signed head
// as it stores them. Prints one JSON line; only the download is timed.
//
//   node replicate.mjs    (env BENCH_REPLICATE_BLOCKS=100000, BENCH_REPLICATE_BLOCK_BYTES=1024)
import Hypercore from 'hypercore'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BLOCKS = Number(process.env.BENCH_REPLICATE_BLOCKS || 100000)
const BLOCK_BYTES = Number(process.env.BENCH_REPLICATE_BLOCK_BYTES || 1024)
const BATCH = 1000
for (const [name, value] of [['BENCH_REPLICATE_BLOCKS', BLOCKS], ['BENCH_REPLICATE_BLOCK_BYTES', BLOCK_BYTES]]) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a positive integer`)
    process.exit(2)
  }
}
// Hypercore 11 dropped random-access-storage (so no random-access-memory): its only storage is
// hypercore-storage, a RocksDB database in a directory. That default is what we measure, on disk
// under os.tmpdir(), one directory per core, removed on exit.
const STORAGE = 'hypercore-storage (RocksDB) on disk under os.tmpdir()'

const require = createRequire(import.meta.url)
const HYPERCORE_VERSION = JSON.parse(readFileSync(require.resolve('hypercore/package.json'))).version

const dirs = []
const closers = []

async function openCore (key) {
  const dir = mkdtempSync(join(tmpdir(), 'hc-replicate-'))
  dirs.push(dir)
  const core = new Hypercore(dir, key)
  closers.push(() => core.close())
  await core.ready()
  return core
}

// Random blocks, so RocksDB's compression cannot make storage cheaper than for real payloads.
async function fill (core) {
  for (let start = 0; start < BLOCKS; start += BATCH) {
    const count = Math.min(BATCH, BLOCKS - start)
    const bytes = randomBytes(count * BLOCK_BYTES)
    const batch = []
    for (let i = 0; i < count; i++) batch.push(bytes.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES))
    await core.append(batch)
  }
}

// Both ends pipe the socket through core.replicate(isInitiator), the README's pattern. A dropped
// connection does not fail a pending download (it waits for another peer), so any stream error or
// early close rejects `broken`, which the download races against.
function connect (writer, reader) {
  let fail
  const broken = new Promise((resolve, reject) => { fail = reject })
  const pipe = (socket, core, isInitiator) => {
    const stream = core.replicate(isInitiator)
    closers.push(() => { stream.destroy(); socket.destroy() })
    for (const s of [socket, stream]) {
      s.on('error', (err) => fail(err))
      s.on('close', () => fail(new Error('replication connection closed early')))
    }
    socket.pipe(stream).pipe(socket)
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => pipe(socket, writer, false))
    closers.unshift(() => new Promise((resolve) => server.close(resolve)))
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const socket = net.connect(server.address().port, '127.0.0.1')
      socket.on('connect', () => {
        pipe(socket, reader, true)
        resolve({ broken }) // wrapped: resolving with a promise would wait for it
      })
      socket.on('error', reject)
    })
  })
}

async function main () {
  const writer = await openCore()
  await fill(writer)

  const reader = await openCore(writer.key)
  const opened = new Promise((resolve) => reader.once('peer-add', resolve))
  const { broken } = await connect(writer, reader)
  broken.catch(() => {}) // teardown closes the connection after the run; only the race reads it
  await Promise.race([opened, broken]) // the noise handshake and channel opening are not timed

  const started = process.hrtime.bigint()
  await Promise.race([reader.download({ start: 0, end: BLOCKS }).done(), broken])
  const seconds = Number(process.hrtime.bigint() - started) / 1e9

  if (reader.contiguousLength !== BLOCKS) {
    throw new Error(`reader holds ${reader.contiguousLength} of ${BLOCKS} blocks`)
  }
  return {
    blocks: BLOCKS,
    block_bytes: BLOCK_BYTES,
    seconds,
    blocks_per_second: BLOCKS / seconds,
    hypercore: HYPERCORE_VERSION,
    storage: STORAGE
  }
}

async function teardown () {
  for (const close of closers.reverse()) await close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
}

try {
  const result = await main()
  await teardown()
  console.log(JSON.stringify(result))
} catch (err) {
  console.error(err && err.stack ? err.stack : err)
  await teardown().catch(() => {})
  process.exit(1)
}
