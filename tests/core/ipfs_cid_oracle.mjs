// Test oracle: the CID IPFS gives for bytes added with cid-version=1 (what `ipfs add
// --cid-version=1` does: raw leaves, default 256 KiB chunker), computed by js-ipfs's own
// importer (ipfs-unixfs-importer, from the pinned `ipfs` package) into an in-memory blockstore.
// stdin: JSON array of base64 payloads; stdout: JSON array of CID strings (base32).
import { importer } from 'ipfs-unixfs-importer'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { readFileSync } from 'node:fs'

const payloads = JSON.parse(readFileSync(0, 'utf8'))
const out = []
for (const b64 of payloads) {
  const blockstore = new MemoryBlockstore()
  let cid
  for await (const entry of importer([{ content: Buffer.from(b64, 'base64') }], blockstore,
    { cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true })) {
    cid = entry.cid
  }
  out.push(cid.toString())
}
process.stdout.write(JSON.stringify(out))
