"""Chain access: compiled artifact, web3 connection, keys, contract binding, transactions."""
