// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title CredentialRegistry
/// @notice One registry for many credential issuers. An operator (the owner, with two-step
/// transfer) admits, suspends and reinstates issuers and cuts off compromised issuer keys.
/// Issuers anchor whole batches of credentials as Merkle roots (OpenZeppelin StandardMerkleTree,
/// leaf encoding ["bytes32"]), revoke batches, and revoke or suspend single credentials.
/// Anyone can check a credential on chain with `verify` or read everything at once with `lookup`.
/// @dev A batch record fits one storage slot; the manifest CID only lives in the event.
contract CredentialRegistry is Ownable2Step {
    /// @notice Lifecycle of an issuer: 0 None, 1 Active, 2 Suspended.
    enum IssuerStatus {
        None,
        Active,
        Suspended
    }

    /// @notice A batch record (one storage slot: 20 + 8 + 4 bytes).
    struct Batch {
        address issuer;
        uint64 anchoredAt;
        uint32 count;
    }

    /// @dev Issuer record; status, registeredAt and keyRevokedSince share one slot.
    struct Issuer {
        IssuerStatus status;
        uint64 registeredAt;
        uint64 keyRevokedSince;
        string name;
        string uri;
    }

    /// @notice verify() status codes.
    uint8 internal constant VALID = 0;
    uint8 internal constant UNKNOWN_BATCH = 1;
    uint8 internal constant INVALID_PROOF = 2;
    uint8 internal constant BATCH_REVOKED = 3;
    uint8 internal constant ISSUER_KEY_REVOKED = 4;
    uint8 internal constant CREDENTIAL_REVOKED = 5;
    uint8 internal constant CREDENTIAL_SUSPENDED = 6;

    /// @dev credential status codes.
    uint8 private constant _CRED_NONE = 0;
    uint8 private constant _CRED_REVOKED = 1;
    uint8 private constant _CRED_SUSPENDED = 2;

    mapping(bytes32 root => Batch) private _batches;
    mapping(bytes32 root => uint64) private _batchRevokedAt;
    mapping(address account => Issuer) private _issuers;
    mapping(address issuer => mapping(bytes32 digest => uint8)) private _credentialStatus;

    /// @notice An issuer was admitted.
    event IssuerRegistered(address indexed issuer, string name, string uri);
    /// @notice An issuer may no longer anchor (its past batches stay valid).
    event IssuerSuspended(address indexed issuer);
    /// @notice A suspended issuer may anchor again.
    event IssuerReinstated(address indexed issuer);
    /// @notice An issuer key was declared compromised: batches anchored at or after `since` fail.
    event IssuerKeyRevoked(address indexed issuer, uint64 since);
    /// @notice A batch of `count` credentials with Merkle root `root` was anchored.
    event BatchAnchored(bytes32 indexed root, address indexed issuer, uint32 count, string manifestCid);
    /// @notice A whole batch was revoked by its issuer.
    event BatchRevoked(bytes32 indexed root, address indexed issuer, string reason);
    /// @notice One credential was revoked (irreversible).
    event CredentialRevoked(address indexed issuer, bytes32 indexed digest, string reason);
    /// @notice One credential was suspended (reversible).
    event CredentialSuspended(address indexed issuer, bytes32 indexed digest);
    /// @notice A suspended credential was reinstated.
    event CredentialReinstated(address indexed issuer, bytes32 indexed digest);

    error ZeroAddress();
    error ZeroRoot();
    error EmptyBatch();
    error EmptyList();
    error ZeroDigest();
    error IssuerAlreadyRegistered(address issuer);
    error IssuerNotRegistered(address issuer);
    error IssuerNotActive(address issuer);
    error IssuerNotSuspended(address issuer);
    error IssuerKeyAlreadyRevoked(address issuer);
    error InvalidSince();
    error NotActiveIssuer(address account);
    error NotRegisteredIssuer(address account);
    error BatchAlreadyAnchored(bytes32 root);
    error BatchNotFound(bytes32 root);
    error NotBatchIssuer(bytes32 root, address account);
    error BatchAlreadyRevoked(bytes32 root);
    error CredentialAlreadyRevoked(bytes32 digest);

    /// @notice Deploy the registry with `initialOwner` as operator.
    /// @param initialOwner the operator address (reverts OwnableInvalidOwner when zero)
    constructor(address initialOwner) Ownable(initialOwner) {}

    // ------------------------------------------------------------------ admin

    /// @notice Admit `issuer` as an active issuer.
    /// @param issuer the issuer's signing address
    /// @param name human-readable name of the institution
    /// @param uri where the institution describes itself (DID, web page)
    function registerIssuer(address issuer, string calldata name, string calldata uri) external onlyOwner {
        if (issuer == address(0)) revert ZeroAddress();
        Issuer storage rec = _issuers[issuer];
        if (rec.status != IssuerStatus.None) revert IssuerAlreadyRegistered(issuer);
        rec.status = IssuerStatus.Active;
        rec.registeredAt = uint64(block.timestamp);
        rec.name = name;
        rec.uri = uri;
        emit IssuerRegistered(issuer, name, uri);
    }

    /// @notice Suspend an active issuer: no new anchors; past batches stay valid.
    /// @param issuer the issuer address (must be Active)
    function suspendIssuer(address issuer) external onlyOwner {
        Issuer storage rec = _issuers[issuer];
        if (rec.status == IssuerStatus.None) revert IssuerNotRegistered(issuer);
        if (rec.status != IssuerStatus.Active) revert IssuerNotActive(issuer);
        rec.status = IssuerStatus.Suspended;
        emit IssuerSuspended(issuer);
    }

    /// @notice Reinstate a suspended issuer.
    /// @param issuer the issuer address (must be Suspended)
    function reinstateIssuer(address issuer) external onlyOwner {
        Issuer storage rec = _issuers[issuer];
        if (rec.status == IssuerStatus.None) revert IssuerNotRegistered(issuer);
        if (rec.status != IssuerStatus.Suspended) revert IssuerNotSuspended(issuer);
        rec.status = IssuerStatus.Active;
        emit IssuerReinstated(issuer);
    }

    /// @notice Declare an issuer key compromised: every batch anchored at or after `since`
    /// (unix seconds) fails verification, and the key can no longer anchor or revoke.
    /// @param issuer a registered issuer
    /// @param since first compromised second (non-zero); can be set only once
    function revokeIssuerKey(address issuer, uint64 since) external onlyOwner {
        Issuer storage rec = _issuers[issuer];
        if (rec.status == IssuerStatus.None) revert IssuerNotRegistered(issuer);
        if (since == 0) revert InvalidSince();
        if (rec.keyRevokedSince != 0) revert IssuerKeyAlreadyRevoked(issuer);
        rec.keyRevokedSince = since;
        emit IssuerKeyRevoked(issuer, since);
    }

    // ----------------------------------------------------------------- issuer

    /// @notice Anchor a batch of `count` credentials whose Merkle root is `root`.
    /// @param root Merkle root (non-zero, never anchored before)
    /// @param count number of credentials in the batch (non-zero)
    /// @param manifestCid IPFS CID of the batch manifest (only emitted, not stored)
    function anchor(bytes32 root, uint32 count, string calldata manifestCid) external {
        Issuer storage rec = _issuers[msg.sender];
        if (rec.status != IssuerStatus.Active || rec.keyRevokedSince != 0) revert NotActiveIssuer(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        Batch storage b = _batches[root];
        if (b.issuer != address(0)) revert BatchAlreadyAnchored(root);
        _batches[root] = Batch({issuer: msg.sender, anchoredAt: uint64(block.timestamp), count: count});
        emit BatchAnchored(root, msg.sender, count, manifestCid);
    }

    /// @notice Revoke a whole batch (irreversible). Only the batch's own issuer, once.
    /// @param root Merkle root of the batch
    /// @param reason short public reason
    function revokeBatch(bytes32 root, string calldata reason) external {
        Batch storage b = _batches[root];
        address batchIssuer = b.issuer;
        if (batchIssuer == address(0)) revert BatchNotFound(root);
        if (batchIssuer != msg.sender) revert NotBatchIssuer(root, msg.sender);
        if (_issuers[msg.sender].keyRevokedSince != 0) revert NotRegisteredIssuer(msg.sender);
        if (_batchRevokedAt[root] != 0) revert BatchAlreadyRevoked(root);
        _batchRevokedAt[root] = uint64(block.timestamp);
        emit BatchRevoked(root, msg.sender, reason);
    }

    /// @notice Revoke credentials of the caller (irreversible). Already revoked ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest)
    /// @param reason short public reason
    function revokeCredentials(bytes32[] calldata digests, string calldata reason) external {
        mapping(bytes32 => uint8) storage statuses = _credentialOps(digests);
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            if (statuses[digest] == _CRED_REVOKED) continue;
            statuses[digest] = _CRED_REVOKED;
            emit CredentialRevoked(msg.sender, digest, reason);
        }
    }

    /// @notice Suspend credentials of the caller (reversible). Already suspended ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest, none revoked)
    function suspendCredentials(bytes32[] calldata digests) external {
        mapping(bytes32 => uint8) storage statuses = _credentialOps(digests);
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            uint8 current = statuses[digest];
            if (current == _CRED_REVOKED) revert CredentialAlreadyRevoked(digest);
            if (current == _CRED_SUSPENDED) continue;
            statuses[digest] = _CRED_SUSPENDED;
            emit CredentialSuspended(msg.sender, digest);
        }
    }

    /// @notice Reinstate suspended credentials of the caller. Non-suspended ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest, none revoked)
    function reinstateCredentials(bytes32[] calldata digests) external {
        mapping(bytes32 => uint8) storage statuses = _credentialOps(digests);
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            uint8 current = statuses[digest];
            if (current == _CRED_REVOKED) revert CredentialAlreadyRevoked(digest);
            if (current != _CRED_SUSPENDED) continue;
            statuses[digest] = _CRED_NONE;
            emit CredentialReinstated(msg.sender, digest);
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice The record of a batch; all zero when unknown.
    /// @param root Merkle root of the batch
    /// @return issuer anchoring issuer
    /// @return anchoredAt block timestamp of the anchor
    /// @return count number of credentials
    /// @return revokedAt block timestamp of the batch revocation, 0 if not revoked
    function batch(bytes32 root)
        external
        view
        returns (address issuer, uint64 anchoredAt, uint32 count, uint64 revokedAt)
    {
        Batch memory b = _batches[root];
        return (b.issuer, b.anchoredAt, b.count, _batchRevokedAt[root]);
    }

    /// @notice The record of an issuer; status 0 when unknown.
    /// @param account issuer address
    /// @return status 0 None, 1 Active, 2 Suspended
    /// @return registeredAt block timestamp of the admission
    /// @return keyRevokedSince first compromised second, 0 if the key is not revoked
    /// @return name institution name
    /// @return uri institution URI
    function issuer(address account)
        external
        view
        returns (uint8 status, uint64 registeredAt, uint64 keyRevokedSince, string memory name, string memory uri)
    {
        Issuer storage rec = _issuers[account];
        return (uint8(rec.status), rec.registeredAt, rec.keyRevokedSince, rec.name, rec.uri);
    }

    /// @notice Status of one credential of an issuer: 0 none, 1 revoked, 2 suspended.
    /// @param account issuer address
    /// @param digest sha256 digest of the credential
    /// @return status code
    function credentialStatus(address account, bytes32 digest) external view returns (uint8) {
        return _credentialStatus[account][digest];
    }

    /// @notice Check a credential against the chain.
    /// @param digest sha256 digest of the credential's canonical bytes
    /// @param proof Merkle path (OpenZeppelin StandardMerkleTree, ["bytes32"] leaves)
    /// @param root Merkle root of the batch
    /// @return status 0 Valid, 1 UnknownBatch, 2 InvalidProof, 3 BatchRevoked, 4 IssuerKeyRevoked,
    /// 5 CredentialRevoked, 6 CredentialSuspended
    function verify(bytes32 digest, bytes32[] calldata proof, bytes32 root) external view returns (uint8) {
        Batch memory b = _batches[root];
        if (b.issuer == address(0)) return UNKNOWN_BATCH;
        if (!MerkleProof.verifyCalldata(proof, root, _leaf(digest))) return INVALID_PROOF;
        if (_batchRevokedAt[root] != 0) return BATCH_REVOKED;
        uint64 since = _issuers[b.issuer].keyRevokedSince;
        if (since != 0 && b.anchoredAt >= since) return ISSUER_KEY_REVOKED;
        uint8 cred = _credentialStatus[b.issuer][digest];
        if (cred == _CRED_REVOKED) return CREDENTIAL_REVOKED;
        if (cred == _CRED_SUSPENDED) return CREDENTIAL_SUSPENDED;
        return VALID;
    }

    /// @notice Everything a verifier needs about one credential in one round trip.
    /// @param root Merkle root of the batch
    /// @param digest sha256 digest of the credential
    /// @return issuer anchoring issuer (zero when the batch is unknown)
    /// @return anchoredAt block timestamp of the anchor
    /// @return count number of credentials in the batch
    /// @return batchRevokedAt block timestamp of the batch revocation, 0 if not revoked
    /// @return issuerStatus 0 None, 1 Active, 2 Suspended
    /// @return keyRevokedSince first compromised second of the issuer key, 0 if not revoked
    /// @return credentialStatus 0 none, 1 revoked, 2 suspended
    function lookup(bytes32 root, bytes32 digest)
        external
        view
        returns (
            address issuer,
            uint64 anchoredAt,
            uint32 count,
            uint64 batchRevokedAt,
            uint8 issuerStatus,
            uint64 keyRevokedSince,
            uint8 credentialStatus
        )
    {
        Batch storage b = _batches[root];
        issuer = b.issuer;
        anchoredAt = b.anchoredAt;
        count = b.count;
        batchRevokedAt = _batchRevokedAt[root];
        Issuer storage rec = _issuers[issuer];
        issuerStatus = uint8(rec.status);
        keyRevokedSince = rec.keyRevokedSince;
        credentialStatus = _credentialStatus[issuer][digest];
    }

    /// @notice The Merkle leaf of a digest: keccak256(bytes.concat(keccak256(abi.encode(digest)))).
    /// @param digest sha256 digest of the credential
    /// @return the leaf hash
    function leafHash(bytes32 digest) external pure returns (bytes32) {
        return _leaf(digest);
    }

    // --------------------------------------------------------------- internal

    function _leaf(bytes32 digest) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    /// @dev Checks shared by the credential operations; returns the caller's status mapping.
    function _credentialOps(bytes32[] calldata digests)
        private
        view
        returns (mapping(bytes32 => uint8) storage)
    {
        Issuer storage rec = _issuers[msg.sender];
        if (rec.status == IssuerStatus.None || rec.keyRevokedSince != 0) revert NotRegisteredIssuer(msg.sender);
        if (digests.length == 0) revert EmptyList();
        return _credentialStatus[msg.sender];
    }
}
