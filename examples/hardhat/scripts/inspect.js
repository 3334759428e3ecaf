// Attach to a deployed credential registry and print its batches and an issuer's status, using
// only the chain (events + view functions) and the contract compiled by Hardhat.
//
//   REGISTRY_ADDRESS=0x... [ISSUER=0x...] [FROM_BLOCK=0] [TO_BLOCK=latest] [JSON=1] \
//     npx hardhat run scripts/inspect.js --network local
//
// JSON=1 prints one JSON document (the shape `registry audit --json` uses for batches and
// issuers), otherwise readable lines. Exit code 2 when the code deployed at REGISTRY_ADDRESS is
// not the contract compiled here from contracts/CredentialRegistry.sol.
const hre = require("hardhat");

const ISSUER_STATUS = ["none", "active", "suspended"];
const CHUNK = 5000n; // blocks per eth_getLogs call; public nodes cap log ranges

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
}

async function queryChunked(registry, filter, fromBlock, toBlock) {
  const events = [];
  for (let start = fromBlock; start <= toBlock; start += CHUNK) {
    const end = start + CHUNK - 1n < toBlock ? start + CHUNK - 1n : toBlock;
    events.push(...(await registry.queryFilter(filter, start, end)));
  }
  return events;
}

async function main() {
  const address = env("REGISTRY_ADDRESS");
  if (!address || !hre.ethers.isAddress(address)) {
    throw new Error("set REGISTRY_ADDRESS to the registry contract address");
  }
  const provider = hre.ethers.provider;
  const code = await provider.getCode(address);
  if (code === "0x") {
    throw new Error(`no contract at ${address} on network ${hre.network.name}`);
  }
  const registry = await hre.ethers.getContractAt("CredentialRegistry", address);
  // The deployed code must be exactly what this project compiled from the published source
  // (same solc 0.8.30, settings and metadata as the registry's committed artifact).
  const artifact = await hre.artifacts.readArtifact("CredentialRegistry");
  const codeMatchesSource = code.toLowerCase() === artifact.deployedBytecode.toLowerCase();
  const chainId = (await provider.getNetwork()).chainId;
  const fromBlock = BigInt(env("FROM_BLOCK", "0"));
  const latest = BigInt(await provider.getBlockNumber());
  const toBlock = env("TO_BLOCK", "latest") === "latest" ? latest : BigInt(env("TO_BLOCK"));

  const anchored = await queryChunked(registry, registry.filters.BatchAnchored(), fromBlock, toBlock);
  const batches = [];
  for (const ev of anchored) {
    const [issuer, anchoredAt, count, revokedAt] = await registry.batch(ev.args.issuer, ev.args.root);
    batches.push({
      root: ev.args.root,
      issuer,
      count: Number(count),
      eventCount: Number(ev.args.count),
      manifestCid: ev.args.manifestCid,
      anchoredAt: Number(anchoredAt),
      revokedAt: Number(revokedAt),
      blockNumber: ev.blockNumber,
      transactionHash: ev.transactionHash,
    });
  }

  const issuers = {};
  const wanted = env("ISSUER") ? [hre.ethers.getAddress(env("ISSUER"))] : [...new Set(batches.map((b) => b.issuer))];
  for (const account of wanted) {
    const [status, registeredAt, keyRevokedSince, name, uri] = await registry.issuer(account);
    issuers[account] = {
      status: ISSUER_STATUS[Number(status)] ?? `unknown(${status})`,
      registeredAt: Number(registeredAt),
      keyRevokedSince: Number(keyRevokedSince),
      name,
      uri,
    };
  }

  const report = {
    network: hre.network.name,
    chainId: Number(chainId),
    registry: hre.ethers.getAddress(address),
    codeMatchesSource,
    fromBlock: Number(fromBlock),
    toBlock: Number(toBlock),
    batches,
    issuers,
  };
  if (!codeMatchesSource) {
    process.exitCode = 2; // still print the report: the auditor wants to see what is there
  }
  if (env("JSON") === "1") {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`registry ${report.registry} on ${report.network} (chain ${report.chainId}), blocks ${report.fromBlock}..${report.toBlock}`);
  console.log(`deployed code ${codeMatchesSource ? "matches" : "DOES NOT match"} the compiled source`);
  console.log(`${batches.length} batch(es)`);
  for (const b of batches) {
    const revoked = b.revokedAt ? ` REVOKED at ${b.revokedAt}` : "";
    console.log(`  ${b.root} count=${b.count} issuer=${b.issuer} block=${b.blockNumber} manifest=${b.manifestCid}${revoked}`);
  }
  for (const [account, info] of Object.entries(issuers)) {
    const key = info.keyRevokedSince ? ` key revoked since ${info.keyRevokedSince}` : "";
    console.log(`issuer ${account}: ${info.status} "${info.name}" ${info.uri} registered ${info.registeredAt}${key}`);
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exitCode = 1;
});
