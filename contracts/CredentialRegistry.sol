// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";

/// @title CredentialRegistry
/// @notice One registry for many credential issuers. An operator (the owner, with two-step
/// transfer) admits, suspends and reinstates issuers and cuts off compromised issuer keys.
/// Issuers anchor whole batches of credentials as Merkle roots (OpenZeppelin StandardMerkleTree,
/// leaf encoding ["bytes32"]), revoke batches, and revoke or suspend single credentials.
/// Anyone can check a credential on chain with `verify` or read everything at once with `lookup`.
/// @dev Batches are scoped per issuer (`_batches[issuer][root]`): nobody can squat another
/// issuer's root. Every status change is recorded with its block timestamp; after a key cut-off
/// (`revokeIssuerKey(issuer, since)`) changes the issuer key made at or after `since` are ignored
/// by every view, and the owner or a manager it names manages that issuer's credentials instead.
contract CredentialRegistry is Ownable2Step {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Lifecycle of an issuer: 0 None, 1 Active, 2 Suspended.
    enum IssuerStatus {
        None,
        Active,
        Suspended
    }

    /// @notice Status of one credential: 0 None, 1 Revoked (irreversible), 2 Suspended (reversible).
    enum CredentialStatus {
        None,
        Revoked,
        Suspended
    }

    /// @notice verify() answers: 0 Valid, 1 UnknownBatch, 2 InvalidProof, 3 BatchRevoked,
    /// 4 IssuerKeyRevoked, 5 CredentialRevoked, 6 CredentialSuspended.
    enum Verdict {
        Valid,
        UnknownBatch,
        InvalidProof,
        BatchRevoked,
        IssuerKeyRevoked,
        CredentialRevoked,
        CredentialSuspended
    }

    /// @notice A batch record, one storage slot (8 + 4 + 8 + 1 bytes); the issuer is the mapping key.
    /// @dev `revokedAt` is the raw revocation time; whether it counts depends on `revokedByManager`
    /// and the issuer's key cut-off (see `_effectiveRevokedAt`).
    struct Batch {
        uint64 anchoredAt;
        uint32 count;
        uint64 revokedAt;
        bool revokedByManager;
    }

    /// @dev Issuer record; status, registeredAt and keyRevokedSince share one slot.
    struct Issuer {
        IssuerStatus status;
        uint64 registeredAt;
        uint64 keyRevokedSince;
        string name;
        string uri;
    }

    /// @dev The status history of one credential of one issuer.
    /// `byKey`: every change made by the issuer key, keyed by block timestamp (value: CredentialStatus).
    /// `managed`: 0 when the owner or manager never acted, else 1 + the CredentialStatus they set.
    struct Credential {
        Checkpoints.Trace208 byKey;
        uint8 managed;
    }

    mapping(address issuer => mapping(bytes32 root => Batch)) private _batches;
    mapping(address account => Issuer) private _issuers;
    mapping(address issuer => mapping(bytes32 digest => Credential)) private _credentials;
    mapping(address issuer => address manager) private _managers;

    /// @notice An issuer was admitted.
    /// @param issuer the issuer's signing address
    /// @param name institution name
    /// @param uri institution URI
    event IssuerRegistered(address indexed issuer, string name, string uri);
    /// @notice An issuer may no longer anchor (its past batches stay valid).
    /// @param issuer the issuer address
    event IssuerSuspended(address indexed issuer);
    /// @notice A suspended issuer may anchor again.
    /// @param issuer the issuer address
    event IssuerReinstated(address indexed issuer);
    /// @notice An issuer key was declared compromised: batches anchored and status changes made by
    /// the key at or after `since` are ignored.
    /// @param issuer the issuer address
    /// @param since first compromised second (unix time)
    event IssuerKeyRevoked(address indexed issuer, uint64 since);
    /// @notice The owner named `manager` to manage the credentials of the key-revoked `issuer`
    /// (zero: no manager, only the owner).
    /// @param issuer the key-revoked issuer
    /// @param manager the successor address, or zero
    event IssuerManagerSet(address indexed issuer, address indexed manager);
    /// @notice A batch of `count` credentials with Merkle root `root` was anchored.
    /// @param root Merkle root
    /// @param issuer anchoring issuer
    /// @param count number of credentials
    /// @param manifestCid IPFS CID of the batch manifest
    event BatchAnchored(bytes32 indexed root, address indexed issuer, uint32 count, string manifestCid);
    /// @notice A whole batch of `issuer` was revoked (by its key, or by the owner or manager after a cut-off).
    /// @param root Merkle root
    /// @param issuer the batch's issuer
    /// @param reason short public reason
    event BatchRevoked(bytes32 indexed root, address indexed issuer, string reason);
    /// @notice One credential of `issuer` was revoked (irreversible).
    /// @param issuer the credential's issuer
    /// @param digest sha256 digest of the credential
    /// @param reason short public reason
    event CredentialRevoked(address indexed issuer, bytes32 indexed digest, string reason);
    /// @notice One credential of `issuer` was suspended (reversible).
    /// @param issuer the credential's issuer
    /// @param digest sha256 digest of the credential
    event CredentialSuspended(address indexed issuer, bytes32 indexed digest);
    /// @notice A suspended credential of `issuer` was reinstated.
    /// @param issuer the credential's issuer
    /// @param digest sha256 digest of the credential
    event CredentialReinstated(address indexed issuer, bytes32 indexed digest);

    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice The Merkle root was zero.
    error ZeroRoot();
    /// @notice A batch must hold at least one credential.
    error EmptyBatch();
    /// @notice The digest list was empty.
    error EmptyList();
    /// @notice A digest in the list was zero.
    error ZeroDigest();
    /// @notice `issuer` is already registered.
    /// @param issuer the issuer address
    error IssuerAlreadyRegistered(address issuer);
    /// @notice `issuer` is not registered.
    /// @param issuer the address
    error IssuerNotRegistered(address issuer);
    /// @notice `issuer` is not Active.
    /// @param issuer the issuer address
    error IssuerNotActive(address issuer);
    /// @notice `issuer` is not Suspended.
    /// @param issuer the issuer address
    error IssuerNotSuspended(address issuer);
    /// @notice The key of `issuer` was already revoked (the cut-off is set once).
    /// @param issuer the issuer address
    error IssuerKeyAlreadyRevoked(address issuer);
    /// @notice The key of `issuer` is not revoked, so its credentials are its own to manage.
    /// @param issuer the issuer address
    error IssuerKeyNotRevoked(address issuer);
    /// @notice The cut-off second must be non-zero.
    error InvalidSince();
    /// @notice `account` may not anchor: not an issuer, suspended, or key revoked.
    /// @param account the caller
    error NotActiveIssuer(address account);
    /// @notice `account` may not manage credentials: not an issuer, or key revoked.
    /// @param account the caller
    error NotRegisteredIssuer(address account);
    /// @notice `account` is neither the owner nor the manager named for `issuer`.
    /// @param issuer the key-revoked issuer
    /// @param account the caller
    error NotIssuerManager(address issuer, address account);
    /// @notice The caller already anchored `root`.
    /// @param root Merkle root
    error BatchAlreadyAnchored(bytes32 root);
    /// @notice The issuer has no batch with `root`.
    /// @param root Merkle root
    error BatchNotFound(bytes32 root);
    /// @notice The batch `root` is already (effectively) revoked.
    /// @param root Merkle root
    error BatchAlreadyRevoked(bytes32 root);
    /// @notice The credential `digest` is (effectively) revoked; it cannot be suspended or reinstated.
    /// @param digest sha256 digest of the credential
    error CredentialAlreadyRevoked(bytes32 digest);

    /// @notice Only the owner, or the manager the owner named for `issuer`, and only once the key of
    /// `issuer` was revoked.
    modifier onlyManagerOf(address issuer) {
        if (msg.sender != owner() && (msg.sender != _managers[issuer] || msg.sender == address(0))) {
            revert NotIssuerManager(issuer, msg.sender);
        }
        if (_issuers[issuer].keyRevokedSince == 0) revert IssuerKeyNotRevoked(issuer);
        _;
    }

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

    /// @notice Declare an issuer key compromised: every batch anchored, and every status change
    /// the key made, at or after `since` (unix seconds) is ignored; the key can no longer anchor
    /// or change any status.
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

    /// @notice Name `manager` as the successor who may manage the credentials and batches of the
    /// key-revoked `issuer` (beside the owner); zero removes the manager.
    /// @param issuer an issuer whose key was revoked
    /// @param manager the successor address, or zero
    function setIssuerManager(address issuer, address manager) external onlyOwner {
        if (_issuers[issuer].keyRevokedSince == 0) revert IssuerKeyNotRevoked(issuer);
        _managers[issuer] = manager;
        emit IssuerManagerSet(issuer, manager);
    }

    // ----------------------------------------------------------------- issuer

    /// @notice Anchor a batch of `count` credentials whose Merkle root is `root`.
    /// @param root Merkle root (non-zero, never anchored before by the caller)
    /// @param count number of credentials in the batch (non-zero)
    /// @param manifestCid IPFS CID of the batch manifest (only emitted, not stored)
    function anchor(bytes32 root, uint32 count, string calldata manifestCid) external {
        Issuer storage rec = _issuers[msg.sender];
        if (rec.status != IssuerStatus.Active || rec.keyRevokedSince != 0) revert NotActiveIssuer(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        Batch storage b = _batches[msg.sender][root];
        if (b.anchoredAt != 0) revert BatchAlreadyAnchored(root);
        b.anchoredAt = uint64(block.timestamp);
        b.count = count;
        emit BatchAnchored(root, msg.sender, count, manifestCid);
    }

    /// @notice Revoke one of the caller's batches (irreversible), once.
    /// @param root Merkle root of the batch
    /// @param reason short public reason
    function revokeBatch(bytes32 root, string calldata reason) external {
        _requireKeyIssuer();
        _revokeBatch(msg.sender, root, reason, false);
    }

    /// @notice Revoke credentials of the caller (irreversible). Already revoked ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest)
    /// @param reason short public reason
    function revokeCredentials(bytes32[] calldata digests, string calldata reason) external {
        _requireKeyIssuer();
        _revoke(msg.sender, digests, reason, false);
    }

    /// @notice Suspend credentials of the caller (reversible). Already suspended ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest, none revoked)
    function suspendCredentials(bytes32[] calldata digests) external {
        _requireKeyIssuer();
        _suspend(msg.sender, digests, false);
    }

    /// @notice Reinstate suspended credentials of the caller. Non-suspended ones are skipped.
    /// @param digests sha256 digests of the credentials (non-empty, no zero digest, none revoked)
    function reinstateCredentials(bytes32[] calldata digests) external {
        _requireKeyIssuer();
        _reinstate(msg.sender, digests, false);
    }

    // ---------------------------------------------------- owner or manager

    /// @notice Revoke a batch of the key-revoked `issuer`; counts whatever the issuer key did.
    /// @param issuer the key-revoked issuer (caller: owner or its manager)
    /// @param root Merkle root of one of its batches
    /// @param reason short public reason
    function revokeBatchOf(address issuer, bytes32 root, string calldata reason) external onlyManagerOf(issuer) {
        _revokeBatch(issuer, root, reason, true);
    }

    /// @notice Revoke credentials of the key-revoked `issuer` (irreversible); effectively revoked
    /// ones are skipped.
    /// @param issuer the key-revoked issuer (caller: owner or its manager)
    /// @param digests sha256 digests (non-empty, no zero digest)
    /// @param reason short public reason
    function revokeCredentialsOf(address issuer, bytes32[] calldata digests, string calldata reason)
        external
        onlyManagerOf(issuer)
    {
        _revoke(issuer, digests, reason, true);
    }

    /// @notice Suspend credentials of the key-revoked `issuer`; effectively suspended ones are skipped.
    /// @param issuer the key-revoked issuer (caller: owner or its manager)
    /// @param digests sha256 digests (non-empty, no zero digest, none effectively revoked)
    function suspendCredentialsOf(address issuer, bytes32[] calldata digests) external onlyManagerOf(issuer) {
        _suspend(issuer, digests, true);
    }

    /// @notice Reinstate suspended credentials of the key-revoked `issuer`; others are skipped.
    /// @param issuer the key-revoked issuer (caller: owner or its manager)
    /// @param digests sha256 digests (non-empty, no zero digest, none effectively revoked)
    function reinstateCredentialsOf(address issuer, bytes32[] calldata digests) external onlyManagerOf(issuer) {
        _reinstate(issuer, digests, true);
    }

    // ------------------------------------------------------------------ views

    /// @notice The record of a batch of `issuer`; all zero when unknown.
    /// @param issuer the anchoring issuer
    /// @param root Merkle root of the batch
    /// @return batchIssuer `issuer`, or zero when it has no such batch
    /// @return anchoredAt block timestamp of the anchor
    /// @return count number of credentials
    /// @return revokedAt effective revocation time, 0 if not revoked (a revocation by the issuer key at
    /// or after its cut-off does not count)
    function batch(address issuer, bytes32 root)
        external
        view
        returns (address batchIssuer, uint64 anchoredAt, uint32 count, uint64 revokedAt)
    {
        Batch memory b = _batches[issuer][root];
        if (b.anchoredAt == 0) return (address(0), 0, 0, 0);
        return (issuer, b.anchoredAt, b.count, _effectiveRevokedAt(b, _issuers[issuer].keyRevokedSince));
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

    /// @notice The manager named for a key-revoked issuer (zero when none).
    /// @param account issuer address
    /// @return the manager address
    function issuerManager(address account) external view returns (address) {
        return _managers[account];
    }

    /// @notice Effective status of one credential of an issuer: 0 none, 1 revoked, 2 suspended.
    /// @param account issuer address
    /// @param digest sha256 digest of the credential
    /// @return status code
    function credentialStatus(address account, bytes32 digest) external view returns (uint8) {
        return uint8(_effectiveStatus(account, digest, _issuers[account].keyRevokedSince));
    }

    /// @notice Check a credential of `issuer` against the chain (effective statuses).
    /// @param issuer the issuer named by the anchor proof
    /// @param digest sha256 digest of the credential's canonical bytes
    /// @param proof Merkle path (OpenZeppelin StandardMerkleTree, ["bytes32"] leaves)
    /// @param root Merkle root of the batch
    /// @return status 0 Valid, 1 UnknownBatch, 2 InvalidProof, 3 BatchRevoked, 4 IssuerKeyRevoked,
    /// 5 CredentialRevoked, 6 CredentialSuspended
    function verify(address issuer, bytes32 digest, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (uint8)
    {
        Batch memory b = _batches[issuer][root];
        if (b.anchoredAt == 0) return uint8(Verdict.UnknownBatch);
        if (!MerkleProof.verifyCalldata(proof, root, _leaf(digest))) return uint8(Verdict.InvalidProof);
        uint64 since = _issuers[issuer].keyRevokedSince;
        if (_effectiveRevokedAt(b, since) != 0) return uint8(Verdict.BatchRevoked);
        if (since != 0 && b.anchoredAt >= since) return uint8(Verdict.IssuerKeyRevoked);
        CredentialStatus cred = _effectiveStatus(issuer, digest, since);
        if (cred == CredentialStatus.Revoked) return uint8(Verdict.CredentialRevoked);
        if (cred == CredentialStatus.Suspended) return uint8(Verdict.CredentialSuspended);
        return uint8(Verdict.Valid);
    }

    /// @notice Everything a verifier needs about one credential in one round trip (effective values).
    /// @param account the issuer named by the anchor proof
    /// @param root Merkle root of the batch
    /// @param digest sha256 digest of the credential
    /// @return issuer `account` when it anchored `root`, zero when the batch is unknown
    /// @return anchoredAt block timestamp of the anchor
    /// @return count number of credentials in the batch
    /// @return batchRevokedAt effective batch revocation time, 0 if not revoked
    /// @return issuerStatus 0 None, 1 Active, 2 Suspended (of `account`)
    /// @return keyRevokedSince first compromised second of the issuer key, 0 if not revoked
    /// @return credentialStatus effective status: 0 none, 1 revoked, 2 suspended
    function lookup(address account, bytes32 root, bytes32 digest)
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
        Issuer storage rec = _issuers[account];
        issuerStatus = uint8(rec.status);
        keyRevokedSince = rec.keyRevokedSince;
        Batch memory b = _batches[account][root];
        if (b.anchoredAt != 0) {
            issuer = account;
            anchoredAt = b.anchoredAt;
            count = b.count;
            batchRevokedAt = _effectiveRevokedAt(b, keyRevokedSince);
        }
        credentialStatus = uint8(_effectiveStatus(account, digest, keyRevokedSince));
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

    /// @dev The caller must be a registered issuer (Active or Suspended) whose key is not revoked.
    function _requireKeyIssuer() private view {
        Issuer storage rec = _issuers[msg.sender];
        if (rec.status == IssuerStatus.None || rec.keyRevokedSince != 0) revert NotRegisteredIssuer(msg.sender);
    }

    /// @dev A batch revocation counts when the owner or manager made it, or the key made it before its cut-off.
    function _effectiveRevokedAt(Batch memory b, uint64 since) private pure returns (uint64) {
        if (b.revokedAt == 0 || b.revokedByManager || since == 0 || b.revokedAt < since) return b.revokedAt;
        return 0;
    }

    /// @dev The status that counts: the manager's when it acted, else the key's last change strictly
    /// before the cut-off (or its last change when there is no cut-off).
    function _effectiveStatus(address account, bytes32 digest, uint64 since)
        private
        view
        returns (CredentialStatus)
    {
        Credential storage c = _credentials[account][digest];
        if (since == 0) return CredentialStatus(c.byKey.latest());
        uint8 managed = c.managed;
        if (managed != 0) return CredentialStatus(managed - 1);
        uint64 last = since - 1;
        if (last >= type(uint48).max) return CredentialStatus(c.byKey.latest());
        return CredentialStatus(c.byKey.upperLookupRecent(uint48(last)));
    }

    /// @dev Record `status` for a credential: in the manager slot, or as a timestamped key checkpoint.
    function _setStatus(Credential storage c, CredentialStatus status, bool byManager) private {
        if (byManager) c.managed = uint8(status) + 1;
        else c.byKey.push(uint48(block.timestamp), uint208(uint8(status)));
    }

    /// @dev The current status as the actor sees it (the key: its own latest change).
    function _current(address account, bytes32 digest, bool byManager) private view returns (CredentialStatus) {
        if (!byManager) return CredentialStatus(_credentials[account][digest].byKey.latest());
        return _effectiveStatus(account, digest, _issuers[account].keyRevokedSince);
    }

    function _revokeBatch(address account, bytes32 root, string calldata reason, bool byManager) private {
        Batch storage b = _batches[account][root];
        if (b.anchoredAt == 0) revert BatchNotFound(root);
        if (_effectiveRevokedAt(b, _issuers[account].keyRevokedSince) != 0) revert BatchAlreadyRevoked(root);
        b.revokedAt = uint64(block.timestamp);
        b.revokedByManager = byManager;
        emit BatchRevoked(root, account, reason);
    }

    function _revoke(address account, bytes32[] calldata digests, string calldata reason, bool byManager) private {
        if (digests.length == 0) revert EmptyList();
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            if (_current(account, digest, byManager) == CredentialStatus.Revoked) continue;
            _setStatus(_credentials[account][digest], CredentialStatus.Revoked, byManager);
            emit CredentialRevoked(account, digest, reason);
        }
    }

    function _suspend(address account, bytes32[] calldata digests, bool byManager) private {
        if (digests.length == 0) revert EmptyList();
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            CredentialStatus current = _current(account, digest, byManager);
            if (current == CredentialStatus.Revoked) revert CredentialAlreadyRevoked(digest);
            if (current == CredentialStatus.Suspended) continue;
            _setStatus(_credentials[account][digest], CredentialStatus.Suspended, byManager);
            emit CredentialSuspended(account, digest);
        }
    }

    function _reinstate(address account, bytes32[] calldata digests, bool byManager) private {
        if (digests.length == 0) revert EmptyList();
        for (uint256 i = 0; i < digests.length; ++i) {
            bytes32 digest = digests[i];
            if (digest == bytes32(0)) revert ZeroDigest();
            CredentialStatus current = _current(account, digest, byManager);
            if (current == CredentialStatus.Revoked) revert CredentialAlreadyRevoked(digest);
            if (current != CredentialStatus.Suspended) continue;
            _setStatus(_credentials[account][digest], CredentialStatus.None, byManager);
            emit CredentialReinstated(account, digest);
        }
    }
}
