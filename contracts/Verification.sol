// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IHelioToken} from "./interfaces/IHelioToken.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";
import {IVerification} from "./interfaces/IVerification.sol";

/// @title Verification
/// @notice See IVerification.
contract Verification is IVerification, AccessControl, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    bytes32 public constant OUTPUT_COMMITMENT_TYPEHASH =
        keccak256("OutputCommitment(bytes32 session,uint32 step,bytes32 inputHash,bytes32 outputHash)");
    bytes32 public constant FRAUD_CLAIM_TYPEHASH = keccak256(
        "FraudClaim(address accused,address reporter,bytes32 inputHash,bytes32 accusedOutputHash,bytes32 evidenceHash)"
    );
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_CONFLICTING = 8; // bounds the pairwise distinctness loop
    uint256 private constant _MAX_BATCH = 256;

    IHelioToken private immutable _token;
    IStakingRegistry private immutable _staking;
    address private immutable _treasury;
    uint256 private immutable _epochLength;

    Parameters private _params;
    Claim[] private _claims;
    mapping(uint256 claimId => mapping(address verifier => bool done)) private _confirmed;
    mapping(bytes32 digest => bool used) private _evidenceUsed;
    mapping(address inferer => mapping(uint256 epoch => Reputation summary)) private _reputation;

    constructor(
        IHelioToken token_,
        IStakingRegistry staking_,
        address treasury_,
        address admin,
        uint256 epochLength_,
        Parameters memory parameters_
    ) EIP712("Heliomesh Verification", "1") {
        if (epochLength_ == 0 || treasury_ == address(0)) revert VerificationInvalidParameters();
        _token = token_;
        _staking = staking_;
        _treasury = treasury_;
        _epochLength = epochLength_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(parameters_);
    }

    modifier onlyVerifier() {
        if (!isVerifier(msg.sender)) revert VerificationNotVerifier(msg.sender);
        _;
    }

    // --- spot-checks -----------------------------------------------------------------------

    /// @inheritdoc IVerification
    function postSpotCheck(address inferer, bool passed) external onlyVerifier {
        _record(inferer, passed, currentEpoch());
    }

    /// @inheritdoc IVerification
    function postSpotChecks(address[] calldata inferers, bool[] calldata passed) external onlyVerifier {
        uint256 n = inferers.length;
        if (n != passed.length || n > _MAX_BATCH) revert VerificationBatchLength(n, passed.length);
        uint256 epoch = currentEpoch();
        for (uint256 i = 0; i < n; ++i) {
            _record(inferers[i], passed[i], epoch);
        }
    }

    function _record(address inferer, bool passed, uint256 epoch) private {
        Reputation storage r = _reputation[inferer][epoch];
        if (passed) r.passed += 1;
        else r.failed += 1;
        emit SpotCheckPosted(inferer, msg.sender, epoch, passed);
    }

    // --- fraud claims ----------------------------------------------------------------------

    /// @inheritdoc IVerification
    function submitFraudClaim(
        address accused,
        SignedCommitment calldata accusedCommitment,
        SignedCommitment[] calldata conflicting
    ) external onlyVerifier returns (uint256 claimId) {
        OutputCommitment calldata a = accusedCommitment.commitment;
        bytes32 accusedDigest = _hashTypedDataV4(_commitmentHash(a));
        if (_evidenceUsed[accusedDigest]) revert VerificationEvidenceUsed(accusedDigest);
        address signer = _recover(accusedDigest, accusedCommitment.signature);
        if (signer != accused) revert VerificationBadSignature(0, signer, accused);
        bytes32 evidence = _checkConflicts(accused, a, accusedDigest, conflicting);

        _evidenceUsed[accusedDigest] = true;
        uint64 deadline = uint64(block.timestamp + _params.challengeWindow);
        claimId = _claims.length;
        Claim storage c = _claims.push();
        c.accused = accused;
        c.deadline = deadline;
        c.reporter = msg.sender;
        c.confirmations = 1; // the reporter's own
        c.inputHash = a.inputHash;
        c.accusedOutputHash = a.outputHash;
        c.evidenceHash = evidence;
        _confirmed[claimId][msg.sender] = true;
        emit FraudClaimSubmitted(claimId, accused, msg.sender, evidence, deadline);
        emit FraudClaimConfirmed(claimId, msg.sender, 1);
    }

    /// @dev Every conflicting commitment: same input, other output, a distinct active
    /// signer that is not the accused. Returns the evidence hash over all digests.
    function _checkConflicts(
        address accused,
        OutputCommitment calldata a,
        bytes32 accusedDigest,
        SignedCommitment[] calldata conflicting
    ) private view returns (bytes32) {
        uint256 n = conflicting.length;
        uint256 minConflicting = _params.minConflicting;
        if (n < minConflicting || n > _MAX_CONFLICTING) revert VerificationConflictCount(n, minConflicting, _MAX_CONFLICTING);
        bytes32[] memory digests = new bytes32[](n + 1);
        address[] memory signers = new address[](n);
        digests[0] = accusedDigest;
        for (uint256 i = 0; i < n; ++i) {
            OutputCommitment calldata c = conflicting[i].commitment;
            if (c.inputHash != a.inputHash) revert VerificationInputMismatch(i + 1);
            if (c.outputHash == a.outputHash) revert VerificationOutputsAgree(i + 1);
            digests[i + 1] = _hashTypedDataV4(_commitmentHash(c));
            address s = _recover(digests[i + 1], conflicting[i].signature);
            if (s == accused) revert VerificationDuplicateSigner(i + 1, s);
            if (!_staking.isActive(s)) revert VerificationSignerNotActive(i + 1, s);
            for (uint256 j = 0; j < i; ++j) {
                if (signers[j] == s) revert VerificationDuplicateSigner(i + 1, s);
            }
            signers[i] = s;
        }
        return keccak256(abi.encode(digests));
    }

    /// @inheritdoc IVerification
    function confirmClaim(uint256 claimId) external onlyVerifier {
        _confirm(_openClaim(claimId), claimId, msg.sender);
    }

    /// @inheritdoc IVerification
    function confirmClaimWithSignatures(uint256 claimId, bytes[] calldata signatures) external {
        Claim storage c = _openClaim(claimId);
        if (signatures.length > _MAX_BATCH) revert VerificationBatchLength(signatures.length, _MAX_BATCH);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(FRAUD_CLAIM_TYPEHASH, c.accused, c.reporter, c.inputHash, c.accusedOutputHash, c.evidenceHash)
            )
        );
        for (uint256 i = 0; i < signatures.length; ++i) {
            address verifier = _recover(digest, signatures[i]);
            if (!isVerifier(verifier)) revert VerificationNotVerifier(verifier);
            _confirm(c, claimId, verifier);
        }
    }

    function _confirm(Claim storage c, uint256 claimId, address verifier) private {
        if (_confirmed[claimId][verifier]) revert VerificationAlreadyConfirmed(claimId, verifier);
        _confirmed[claimId][verifier] = true;
        uint32 confirmations = c.confirmations + 1;
        c.confirmations = confirmations;
        emit FraudClaimConfirmed(claimId, verifier, confirmations);
    }

    /// @inheritdoc IVerification
    function executeSlash(uint256 claimId) external nonReentrant returns (uint256 amount) {
        Claim storage c = _openClaim(claimId);
        if (block.timestamp < c.deadline) revert VerificationChallengeWindowOpen(c.deadline, block.timestamp);
        Parameters memory p = _params;
        if (c.confirmations < p.quorum) revert VerificationQuorumNotReached(c.confirmations, p.quorum);
        c.executed = true;
        // Interactions: the registry sends the slashed tokens here, then they are split.
        amount = _staking.slash(c.accused, p.slashBps, address(this));
        uint256 burned = amount * p.burnBps / _BPS;
        uint256 toReporter = amount * p.reporterBps / _BPS;
        uint256 toTreasury = amount - burned - toReporter;
        emit FraudSlashed(claimId, c.accused, amount, burned, toReporter, toTreasury);
        if (burned != 0) _token.burn(burned);
        if (toReporter != 0) IERC20(address(_token)).safeTransfer(c.reporter, toReporter);
        if (toTreasury != 0) IERC20(address(_token)).safeTransfer(_treasury, toTreasury);
    }

    // --- governance ------------------------------------------------------------------------

    /// @inheritdoc IVerification
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
    }

    function _setParameters(Parameters memory p) private {
        bool ok = p.slashBps != 0 && p.slashBps <= _BPS && uint256(p.burnBps) + p.reporterBps <= _BPS && p.quorum != 0
            && p.minConflicting != 0 && p.minConflicting <= _MAX_CONFLICTING;
        if (!ok) revert VerificationInvalidParameters();
        _params = p;
        emit ParametersSet(p);
    }

    // --- internals and views ---------------------------------------------------------------

    function _openClaim(uint256 claimId) private view returns (Claim storage c) {
        if (claimId >= _claims.length) revert VerificationUnknownClaim(claimId);
        c = _claims[claimId];
        if (c.executed) revert VerificationClaimExecuted(claimId);
    }

    function _commitmentHash(OutputCommitment calldata c) private pure returns (bytes32) {
        return keccak256(abi.encode(OUTPUT_COMMITMENT_TYPEHASH, c.session, c.step, c.inputHash, c.outputHash));
    }

    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        (signer,,) = ECDSA.tryRecoverCalldata(digest, signature);
    }

    /// @inheritdoc IVerification
    function isVerifier(address account) public view returns (bool) {
        return hasRole(VERIFIER_ROLE, account) && _staking.isActive(account);
    }

    /// @inheritdoc IVerification
    function currentEpoch() public view returns (uint256) {
        return block.timestamp / _epochLength;
    }

    function epochLength() external view returns (uint256) {
        return _epochLength;
    }

    function claimOf(uint256 claimId) external view returns (Claim memory) {
        if (claimId >= _claims.length) revert VerificationUnknownClaim(claimId);
        return _claims[claimId];
    }

    function claimCount() external view returns (uint256) {
        return _claims.length;
    }

    function hasConfirmed(uint256 claimId, address verifier) external view returns (bool) {
        return _confirmed[claimId][verifier];
    }

    function isEvidenceUsed(bytes32 commitmentDigest) external view returns (bool) {
        return _evidenceUsed[commitmentDigest];
    }

    function reputationOf(address inferer, uint256 epoch) external view returns (Reputation memory) {
        return _reputation[inferer][epoch];
    }

    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    function hashCommitment(OutputCommitment calldata commitment) external view returns (bytes32) {
        return _hashTypedDataV4(_commitmentHash(commitment));
    }

    function hashFraudClaim(FraudClaim calldata claim) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    FRAUD_CLAIM_TYPEHASH, claim.accused, claim.reporter, claim.inputHash, claim.accusedOutputHash, claim.evidenceHash
                )
            )
        );
    }

    function token() external view returns (address) {
        return address(_token);
    }

    function staking() external view returns (address) {
        return address(_staking);
    }

    function treasury() external view returns (address) {
        return _treasury;
    }
}
