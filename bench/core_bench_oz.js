// OpenZeppelin side of bench/core_bench.py: build StandardMerkleTree(["bytes32"]) + every proof.
// stdin: n*32 raw digest bytes. stdout: one JSON object {leaves, build_s, proofs_s, total_s, root, check}.
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const chunks = [];
process.stdin.on('data', c => chunks.push(c));
process.stdin.on('end', () => {
  const buf = Buffer.concat(chunks);
  const n = buf.length / 32;
  const values = new Array(n);
  for (let i = 0; i < n; i++) values[i] = ['0x' + buf.subarray(32 * i, 32 * i + 32).toString('hex')];
  const t0 = process.hrtime.bigint();
  const tree = StandardMerkleTree.of(values, ['bytes32']);
  const t1 = process.hrtime.bigint();
  let check = 0;
  for (let i = 0; i < n; i++) check += tree.getProof(i).length;
  const t2 = process.hrtime.bigint();
  const s = x => Number(x) / 1e9;
  process.stdout.write(JSON.stringify({
    leaves: n, build_s: s(t1 - t0), proofs_s: s(t2 - t1), total_s: s(t2 - t0), root: tree.root, check,
  }));
});
