// Writes a vectors file in the format of ../shared/vectors/hypercore-v11.json, every value taken
// from the real hypercore@11.37.1 package: keys, tree hashes, signables, head signatures, the
// stored leaf nodes and the proofs that core.proof() builds for each request.
//
//   node make-vectors.mjs SEED_HEX OUTPUT_PATH
//
// The blocks, batch sizes and proof requests below differ on purpose from the shared file.
import Hypercore from 'hypercore'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const crypto = require('hypercore-crypto')
const b4a = require('b4a')
const caps = require('hypercore/lib/caps.js')
const { MerkleTree } = require('hypercore/lib/merkle-tree.js')

const version = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`))).version
const HYPERCORE_VERSION = version('hypercore')
if (HYPERCORE_VERSION !== '11.37.1') throw new Error(`need hypercore@11.37.1, found ${HYPERCORE_VERSION}`)

const [seedHex, output] = process.argv.slice(2)
if (!/^[0-9a-f]{64}$/i.test(seedHex || '') || !output) {
  console.error('usage: node make-vectors.mjs SEED_HEX(32 bytes) OUTPUT_PATH')
  process.exit(2)
}

const BATCH_SIZES = [1, 4, 2, 9, 1, 16, 3]
const EMPTY = new Set([3, 16, 29])
const LONG = { 11: 300, 20: 1024, 34: 253 }

function blockAt(i) {
  if (EMPTY.has(i)) return b4a.alloc(0)
  const size = LONG[i] || 1 + ((i * 37 + 11) % 61)
  const text = `blk${i}:` + 'the quick brown fox jumps over the lazy dog; '.repeat(30)
  return b4a.from(text.slice(0, size))
}

// Block requests as a reader asks for them (nodes = ancestor levels it lacks), upgrades from
// several start lengths, some ending below the writer's length (so with additional nodes), and
// block+upgrade pairs with the block both inside and below the upgraded range.
const REQUESTS = [
  { block: { index: 0, nodes: 0 } },
  { block: { index: 5, nodes: 1 } },
  { block: { index: 10, nodes: 3 } },
  { block: { index: 17, nodes: 5 } },
  { block: { index: 33, nodes: 2 } },
  { block: { index: 35, nodes: 2 } },
  { upgrade: { start: 0, length: 36 } },
  { upgrade: { start: 1, length: 35 } },
  { upgrade: { start: 5, length: 31 } },
  { upgrade: { start: 32, length: 4 } },
  { upgrade: { start: 35, length: 1 } },
  { upgrade: { start: 0, length: 1 } },
  { upgrade: { start: 3, length: 13 } },
  { upgrade: { start: 16, length: 17 } },
  { block: { index: 20, nodes: 0 }, upgrade: { start: 0, length: 36 } },
  { block: { index: 35, nodes: 0 }, upgrade: { start: 33, length: 3 } },
  { block: { index: 2, nodes: 2 }, upgrade: { start: 7, length: 29 } },
  { block: { index: 12, nodes: 3 }, upgrade: { start: 20, length: 10 } },
  { block: { index: 25, nodes: 0 }, upgrade: { start: 16, length: 16 } },
  { block: { index: 9, nodes: 0 }, upgrade: { start: 4, length: 32 } },
  { block: { index: 30, nodes: 1 }, upgrade: { start: 31, length: 2 } }
]

const hex = (buf) => b4a.toString(buf, 'hex')
const nodeJson = (n) => ({ index: n.index, size: n.size, hash: hex(n.hash) })

function proofJson(proof) {
  const out = { fork: proof.fork }
  if (proof.block) {
    out.block = {
      index: proof.block.index,
      value: hex(proof.block.value),
      nodes: proof.block.nodes.map(nodeJson)
    }
  }
  for (const part of ['hash', 'seek', 'manifest']) {
    if (proof[part]) throw new Error(`unexpected ${part} part in a proof`)
  }
  if (proof.upgrade) {
    out.upgrade = {
      start: proof.upgrade.start,
      length: proof.upgrade.length,
      nodes: proof.upgrade.nodes.map(nodeJson),
      additionalNodes: proof.upgrade.additionalNodes.map(nodeJson),
      signature: hex(proof.upgrade.signature)
    }
  }
  return out
}

async function signableOf(core) {
  const verifier = core.core.verifier
  if (!verifier.compat) return core.signable()
  const signer = verifier.signers[0]
  return caps.treeSignableCompat(await core.treeHash(), core.length, core.fork, signer.legacy)
}

function assertSigned(core, treeHash, signature) {
  const batch = {
    length: core.length,
    fork: core.fork,
    hash: () => treeHash,
    signable: (ctx) => caps.treeSignable(ctx, treeHash, core.length, core.fork),
    signableCompat: (noHeader) =>
      caps.treeSignableCompat(treeHash, core.length, core.fork, noHeader)
  }
  if (!core.core.verifier.verify(batch, signature)) {
    throw new Error(`hypercore's verifier rejects the head signature at length ${core.length}`)
  }
}

async function mode(name, keyPair) {
  const dir = mkdtempSync(join(tmpdir(), `hc-vectors-${name}-`))
  const core = new Hypercore(dir, { keyPair, compat: name === 'compat' })
  try {
    await core.ready()
    if (core.core.compat !== (name === 'compat')) throw new Error(`${name}: wrong signing mode`)

    const appends = []
    let next = 0
    for (const size of BATCH_SIZES) {
      const blocks = Array.from({ length: size }, () => blockAt(next++))
      await core.append(blocks)
      const treeHash = await core.treeHash()
      const signature = core.state.signature
      assertSigned(core, treeHash, signature)
      appends.push({
        blocks: blocks.map(hex),
        length: core.length,
        fork: core.fork,
        treeHash: hex(treeHash),
        signable: hex(await signableOf(core)),
        signature: hex(signature)
      })
    }

    const blockHashes = []
    for (let i = 0; i < core.length; i++) {
      const leaf = await MerkleTree.get(core.state, 2 * i)
      if (!b4a.equals(leaf.hash, crypto.data(await core.get(i)))) {
        throw new Error(`${name}: stored leaf ${2 * i} is not hypercore-crypto's data() hash`)
      }
      blockHashes.push(hex(leaf.hash))
    }

    const proofs = []
    for (const request of REQUESTS) {
      const proof = await core.proof(structuredClone(request))
      if (proof.upgrade && proof.upgrade.start === 0) await core.verifyFullyRemote(proof)
      proofs.push({ request, proof: proofJson(proof) })
    }

    return {
      publicKey: hex(keyPair.publicKey),
      key: hex(core.key),
      discoveryKey: hex(core.discoveryKey),
      appends,
      proofs,
      blockHashes
    }
  } finally {
    await core.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const keyPair = crypto.keyPair(b4a.from(seedHex, 'hex'))
const vectors = {
  generator:
    `bench/hypercore_reference/make-vectors.mjs: hypercore@${HYPERCORE_VERSION} (npm), ` +
    `hypercore-crypto@${version('hypercore-crypto')}`,
  seedHex: seedHex.toLowerCase(),
  modes: {
    manifest: await mode('manifest', keyPair),
    compat: await mode('compat', keyPair)
  }
}
writeFileSync(output, JSON.stringify(vectors, null, 1) + '\n')
console.log(`wrote ${output}`)
