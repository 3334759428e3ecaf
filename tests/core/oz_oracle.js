// Test oracle: @openzeppelin/merkle-tree StandardMerkleTree with ["bytes32"] leaves.
// stdin: {"digests": ["0x…"], "multi": [[i, …], …]}
// stdout: {"root", "tree", "proofs": [[…]], "multi": [{leaves, proof, proofFlags}], "verified": bool}
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const t = StandardMerkleTree.of(input.digests.map(d => [d]), ['bytes32']);
const proofs = input.digests.map((_, i) => t.getProof(i));
const multi = (input.multi || []).map(ix => {
  const m = t.getMultiProof(ix);
  return { leaves: m.leaves.map(v => v[0]), proof: m.proof, proofFlags: m.proofFlags };
});
// Check our proofs with OpenZeppelin's own verifier, when given.
const verified = (input.check || []).map(c =>
  StandardMerkleTree.verify(c.root, ['bytes32'], [c.digest], c.proof));
process.stdout.write(JSON.stringify({ root: t.root, tree: t.dump().tree, proofs, multi, verified }));
