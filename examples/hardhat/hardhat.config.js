// The example project uses the repository's hardhat.config.example unchanged; its contracts
// folder is the repository's contracts/ (see paths.sources there).
module.exports = require("../../hardhat.config.example");
