"""The issuer pipeline: intake, batching, pinning, durable transactions, proofs, watch loop."""
