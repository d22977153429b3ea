// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IHelioToken} from "./interfaces/IHelioToken.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";
import {IVerification} from "./interfaces/IVerification.sol";

/// @title Verification
/// @notice See IVerification.
contract Verification is IVerification, AccessControl, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    bytes32 public constant OUTPUT_COMMITMENT_TYPEHASH = keccak256(
        "OutputCommitment(bytes32 session,uint32 step,bytes32 inputHash,bytes32 outputHash,bytes32 fingerprintHash)"
    );
    bytes32 public constant FRAUD_CLAIM_TYPEHASH = keccak256(
        "FraudClaim(address accused,address reporter,bytes32 inputHash,bytes32 accusedOutputHash,bytes32 evidenceHash)"
    );
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_CONFLICTING = 8; // bounds the pairwise distinctness loop
    uint256 private constant _MAX_BATCH = 256;
    uint256 private constant _MAX_ACCUSERS = 24; // bounds the loops of a lost dispute
    bytes32 private constant _SLASHER_ROLE = keccak256("SLASHER_ROLE"); // StakingRegistry's

    IHelioToken private immutable _token;
    IStakingRegistry private immutable _staking;
    address private immutable _treasury;
    uint256 private immutable _epochLength;

    Parameters private _params;
    Claim[] private _claims;
    mapping(uint256 claimId => mapping(address verifier => bool done)) private _confirmed;
    mapping(uint256 claimId => mapping(address verifier => bool done)) private _voted;
    mapping(uint256 claimId => address[] accusers) private _accusers;
    mapping(uint256 claimId => mapping(address account => bool yes)) private _isAccuser;
    mapping(address accused => mapping(bytes32 session => uint256 claimIdPlusOne)) private _sessionClaim;
    mapping(address verifier => mapping(bytes32 digest => bool done)) private _spotChecked;
    mapping(address inferer => mapping(uint256 epoch => Reputation summary)) private _reputation;
    mapping(address inferer => Reputation summary) private _reputationTotal;

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
    function postSpotCheck(address inferer, bytes32 commitmentDigest, bool passed) external onlyVerifier {
        _record(inferer, commitmentDigest, passed, currentEpoch());
    }

    /// @inheritdoc IVerification
    function postSpotChecks(address[] calldata inferers, bytes32[] calldata digests, bool[] calldata passed)
        external
        onlyVerifier
    {
        uint256 n = inferers.length;
        if (n != passed.length || n != digests.length || n > _MAX_BATCH) {
            revert VerificationBatchLength(n, passed.length);
        }
        uint256 epoch = currentEpoch();
        for (uint256 i = 0; i < n; ++i) {
            _record(inferers[i], digests[i], passed[i], epoch);
        }
    }

    function _record(address inferer, bytes32 digest, bool passed, uint256 epoch) private {
        if (_spotChecked[msg.sender][digest]) revert VerificationAlreadySpotChecked(msg.sender, digest);
        _spotChecked[msg.sender][digest] = true;
        Reputation storage r = _reputation[inferer][epoch];
        Reputation storage t = _reputationTotal[inferer];
        if (passed) {
            r.passed += 1;
            t.passed += 1;
        } else {
            r.failed += 1;
            t.failed += 1;
        }
        emit SpotCheckPosted(inferer, msg.sender, epoch, digest, passed);
    }

    // --- fraud claims ----------------------------------------------------------------------

    /// @inheritdoc IVerification
    function submitFraudClaim(
        address accused,
        SignedCommitment calldata accusedCommitment,
        SignedCommitment[] calldata conflicting
    ) external onlyVerifier nonReentrant returns (uint256 claimId) {
        OutputCommitment calldata a = accusedCommitment.commitment;
        if (_sessionClaim[accused][a.session] != 0) revert VerificationSessionClaimed(accused, a.session);
        bytes32 accusedDigest = _hashTypedDataV4(_commitmentHash(a));
        address signer = _recover(accusedDigest, accusedCommitment.signature);
        if (signer != accused) revert VerificationBadSignature(0, signer, accused);
        claimId = _claims.length;
        (bytes32 evidence, address[] memory signers) = _checkConflicts(accused, a, accusedDigest, conflicting);

        _sessionClaim[accused][a.session] = claimId + 1;
        uint64 deadline = uint64(block.timestamp + _params.challengeWindow);
        Claim storage c = _claims.push();
        c.accused = accused;
        c.deadline = deadline;
        c.reporter = msg.sender;
        c.confirmations = 1; // the reporter's own
        c.session = a.session;
        c.inputHash = a.inputHash;
        c.accusedOutputHash = a.outputHash;
        c.evidenceHash = evidence;
        _confirmed[claimId][msg.sender] = true;
        _addAccuser(claimId, msg.sender);
        for (uint256 i = 0; i < signers.length; ++i) {
            _addAccuser(claimId, signers[i]);
        }
        emit FraudClaimSubmitted(claimId, accused, msg.sender, evidence, deadline);
        emit FraudClaimConfirmed(claimId, msg.sender, 1);
        // Interaction: freeze the accused's stake and size the slash from it now.
        c.frozenStake = _staking.freeze(accused);
    }

    /// @dev Every conflicting commitment: same input, a distinct active signer that is not
    /// the accused, one shared nonzero fingerprint that differs from the accused's.
    /// Returns the evidence hash over all digests and the signers.
    function _checkConflicts(
        address accused,
        OutputCommitment calldata a,
        bytes32 accusedDigest,
        SignedCommitment[] calldata conflicting
    ) private view returns (bytes32, address[] memory signers) {
        uint256 n = conflicting.length;
        uint256 minConflicting = _params.minConflicting;
        if (n < minConflicting || n > _MAX_CONFLICTING) revert VerificationConflictCount(n, minConflicting, _MAX_CONFLICTING);
        bytes32[] memory digests = new bytes32[](n + 1);
        signers = new address[](n);
        digests[0] = accusedDigest;
        bytes32 agreed = conflicting[0].commitment.fingerprintHash;
        for (uint256 i = 0; i < n; ++i) {
            OutputCommitment calldata c = conflicting[i].commitment;
            if (c.inputHash != a.inputHash) revert VerificationInputMismatch(i + 1);
            if (c.fingerprintHash == bytes32(0) || c.fingerprintHash != agreed) revert VerificationConflictsDisagree(i + 1);
            if (c.fingerprintHash == a.fingerprintHash) revert VerificationFingerprintsAgree(i + 1);
            digests[i + 1] = _hashTypedDataV4(_commitmentHash(c));
            address s = _recover(digests[i + 1], conflicting[i].signature);
            if (s == accused) revert VerificationDuplicateSigner(i + 1, s);
            if (!_staking.isActive(s)) revert VerificationSignerNotActive(i + 1, s);
            for (uint256 j = 0; j < i; ++j) {
                if (signers[j] == s) revert VerificationDuplicateSigner(i + 1, s);
            }
            signers[i] = s;
        }
        return (keccak256(abi.encode(digests)), signers);
    }

    function _addAccuser(uint256 claimId, address account) private {
        if (_isAccuser[claimId][account]) return;
        if (_accusers[claimId].length >= _MAX_ACCUSERS) revert VerificationTooManyAccusers(claimId);
        _isAccuser[claimId][account] = true;
        _accusers[claimId].push(account);
    }

    /// @inheritdoc IVerification
    function confirmClaim(uint256 claimId) external onlyVerifier {
        _vote(_claim(claimId), claimId, msg.sender);
    }

    /// @inheritdoc IVerification
    function confirmClaimWithSignatures(uint256 claimId, bytes[] calldata signatures) external {
        Claim storage c = _claim(claimId);
        if (c.status != ClaimStatus.Open) revert VerificationWrongStatus(claimId, c.status);
        if (signatures.length > _MAX_BATCH) revert VerificationBatchLength(signatures.length, _MAX_BATCH);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(FRAUD_CLAIM_TYPEHASH, c.accused, c.reporter, c.inputHash, c.accusedOutputHash, c.evidenceHash)
            )
        );
        for (uint256 i = 0; i < signatures.length; ++i) {
            address verifier = _recover(digest, signatures[i]);
            if (!isVerifier(verifier)) revert VerificationNotVerifier(verifier);
            _vote(c, claimId, verifier);
        }
    }

    /// @dev A guilty vote: before a dispute it confirms (and makes the voter an accuser);
    /// during one it counts for the committee, which no accuser may join.
    function _vote(Claim storage c, uint256 claimId, address verifier) private {
        if (verifier == c.accused) revert VerificationAccuserVotes(claimId, verifier);
        if (c.status == ClaimStatus.Open) {
            uint256 closes = uint256(c.deadline) + _params.claimTtl;
            if (block.timestamp >= closes) revert VerificationWindowClosed(closes, block.timestamp);
            if (_confirmed[claimId][verifier]) revert VerificationAlreadyConfirmed(claimId, verifier);
            _confirmed[claimId][verifier] = true;
            _addAccuser(claimId, verifier);
        } else if (c.status == ClaimStatus.Disputed) {
            _checkCommitteeVote(c, claimId, verifier);
        } else {
            revert VerificationWrongStatus(claimId, c.status);
        }
        uint32 confirmations = c.confirmations + 1;
        c.confirmations = confirmations;
        emit FraudClaimConfirmed(claimId, verifier, confirmations);
    }

    function _checkCommitteeVote(Claim storage c, uint256 claimId, address verifier) private {
        if (block.timestamp >= c.disputeDeadline) revert VerificationWindowClosed(c.disputeDeadline, block.timestamp);
        if (_isAccuser[claimId][verifier] || verifier == c.accused) revert VerificationAccuserVotes(claimId, verifier);
        if (_voted[claimId][verifier]) revert VerificationAlreadyConfirmed(claimId, verifier);
        _voted[claimId][verifier] = true;
    }

    // --- disputes ----------------------------------------------------------------------------

    /// @inheritdoc IVerification
    function dispute(uint256 claimId) external nonReentrant {
        Claim storage c = _claim(claimId);
        if (msg.sender != c.accused) revert VerificationNotAccused(msg.sender);
        if (c.status != ClaimStatus.Open) revert VerificationWrongStatus(claimId, c.status);
        if (block.timestamp >= c.deadline) revert VerificationWindowClosed(c.deadline, block.timestamp);
        uint64 disputeDeadline = uint64(block.timestamp + _params.disputeWindow);
        c.status = ClaimStatus.Disputed;
        c.disputeDeadline = disputeDeadline;
        c.confirmations = 0; // from here on: the committee's guilty votes
        emit ClaimDisputed(claimId, disputeDeadline);
        // Interactions: the accusers cannot leave while their accusation is judged.
        address[] storage accusers = _accusers[claimId];
        for (uint256 i = 0; i < accusers.length; ++i) {
            _staking.freeze(accusers[i]);
        }
    }

    /// @inheritdoc IVerification
    function rejectClaim(uint256 claimId) external onlyVerifier {
        Claim storage c = _claim(claimId);
        if (c.status != ClaimStatus.Disputed) revert VerificationWrongStatus(claimId, c.status);
        _checkCommitteeVote(c, claimId, msg.sender);
        uint32 rejections = c.rejections + 1;
        c.rejections = rejections;
        emit ClaimRejectVote(claimId, msg.sender, rejections);
    }

    /// @inheritdoc IVerification
    function resolveDispute(uint256 claimId) external nonReentrant {
        Claim storage c = _claim(claimId);
        if (c.status != ClaimStatus.Disputed) revert VerificationWrongStatus(claimId, c.status);
        if (block.timestamp < c.disputeDeadline) revert VerificationChallengeWindowOpen(c.disputeDeadline, block.timestamp);
        Parameters memory p = _params;
        bool upheld = c.confirmations >= p.disputeQuorum && c.confirmations > c.rejections;
        c.status = upheld ? ClaimStatus.Slashed : ClaimStatus.Rejected;
        address[] memory accusers = _accusers[claimId];
        if (upheld) {
            for (uint256 i = 0; i < accusers.length; ++i) {
                _staking.unfreeze(accusers[i]);
            }
            _slashAccused(claimId, c, p);
        } else {
            _slashAccusers(claimId, c, p, accusers);
        }
    }

    // --- execution -----------------------------------------------------------------------------

    /// @inheritdoc IVerification
    function executeSlash(uint256 claimId) external nonReentrant returns (uint256 amount) {
        Claim storage c = _claim(claimId);
        if (c.status != ClaimStatus.Open) revert VerificationWrongStatus(claimId, c.status);
        if (block.timestamp < c.deadline) revert VerificationChallengeWindowOpen(c.deadline, block.timestamp);
        Parameters memory p = _params;
        uint256 closes = uint256(c.deadline) + p.claimTtl;
        if (block.timestamp >= closes) revert VerificationWindowClosed(closes, block.timestamp);
        if (c.confirmations < p.quorum) revert VerificationQuorumNotReached(c.confirmations, p.quorum);
        c.status = ClaimStatus.Slashed;
        amount = _slashAccused(claimId, c, p);
    }

    /// @inheritdoc IVerification
    function expireClaim(uint256 claimId) external nonReentrant {
        Claim storage c = _claim(claimId);
        if (c.status != ClaimStatus.Open) revert VerificationWrongStatus(claimId, c.status);
        uint256 closes = uint256(c.deadline) + _params.claimTtl;
        if (block.timestamp < closes) revert VerificationChallengeWindowOpen(closes, block.timestamp);
        c.status = ClaimStatus.Expired;
        emit ClaimExpired(claimId);
        _staking.unfreeze(c.accused);
    }

    /// @dev Status already set by the caller (checks-effects-interactions): slash the frozen
    /// size, release the freeze, jail, split burn / reporter (own stake only, capped) / treasury.
    function _slashAccused(uint256 claimId, Claim storage c, Parameters memory p) private returns (uint256 amount) {
        address accused = c.accused;
        (uint256 taken, uint256 fromSelf) = _staking.slashAmount(accused, c.frozenStake * p.slashBps / _BPS, address(this));
        _staking.unfreeze(accused);
        _staking.jail(accused, uint64(block.timestamp + p.jailDuration));
        (uint256 burned, uint256 toReporter, uint256 toTreasury) = _split(taken, fromSelf, p);
        emit FraudSlashed(claimId, accused, taken, burned, toReporter, toTreasury);
        _payOut(burned, c.reporter, toReporter, toTreasury);
        return taken;
    }

    /// @dev A lost accusation: every accuser loses `slashBps` of its stake and is jailed;
    /// the wronged accused gets the reporter's part.
    function _slashAccusers(uint256 claimId, Claim storage c, Parameters memory p, address[] memory accusers) private {
        uint256 taken = 0;
        uint256 fromSelf = 0;
        uint64 until = uint64(block.timestamp + p.jailDuration);
        for (uint256 i = 0; i < accusers.length; ++i) {
            address a = accusers[i];
            (uint256 t, uint256 s) = _staking.slashAmount(a, _staking.slashableOf(a) * p.slashBps / _BPS, address(this));
            _staking.unfreeze(a);
            _staking.jail(a, until);
            taken += t;
            fromSelf += s;
        }
        _staking.unfreeze(c.accused);
        (uint256 burned, uint256 toAccused, uint256 toTreasury) = _split(taken, fromSelf, p);
        emit AccusersSlashed(claimId, taken, toAccused);
        _payOut(burned, c.accused, toAccused, toTreasury);
    }

    function _split(uint256 taken, uint256 fromSelf, Parameters memory p)
        private
        pure
        returns (uint256 burned, uint256 reward, uint256 toTreasury)
    {
        burned = taken * p.burnBps / _BPS;
        reward = Math.min(fromSelf * p.reporterBps / _BPS, p.reporterCap);
        toTreasury = taken - burned - reward;
    }

    function _payOut(uint256 burned, address rewarded, uint256 reward, uint256 toTreasury) private {
        if (burned != 0) _token.burn(burned);
        if (reward != 0) IERC20(address(_token)).safeTransfer(rewarded, reward);
        if (toTreasury != 0) IERC20(address(_token)).safeTransfer(_treasury, toTreasury);
    }

    // --- governance ------------------------------------------------------------------------

    /// @inheritdoc IVerification
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
        // Keep the registry's unbonding floor in step (skipped before SLASHER_ROLE is
        // granted: granting the role reads `evidenceWindow()` itself).
        if (IAccessControl(address(_staking)).hasRole(_SLASHER_ROLE, address(this))) {
            _staking.setEvidenceWindow(evidenceWindow());
        }
    }

    function _setParameters(Parameters memory p) private {
        bool ok = p.slashBps != 0 && p.slashBps <= _BPS && uint256(p.burnBps) + p.reporterBps <= _BPS && p.quorum != 0
            && p.minConflicting != 0 && p.minConflicting <= _MAX_CONFLICTING && p.challengeWindow != 0 && p.claimTtl != 0
            && p.disputeWindow != 0 && p.disputeQuorum > p.quorum;
        if (!ok) revert VerificationInvalidParameters();
        uint256 window = uint256(p.challengeWindow) + p.disputeWindow + p.claimTtl;
        uint256 delay = _staking.unbondingDelay();
        if (window > delay) revert VerificationEvidenceWindowTooLong(window, delay);
        _params = p;
        emit ParametersSet(p);
    }

    // --- internals and views ---------------------------------------------------------------

    function _claim(uint256 claimId) private view returns (Claim storage) {
        if (claimId >= _claims.length) revert VerificationUnknownClaim(claimId);
        return _claims[claimId];
    }

    function _commitmentHash(OutputCommitment calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(OUTPUT_COMMITMENT_TYPEHASH, c.session, c.step, c.inputHash, c.outputHash, c.fingerprintHash)
        );
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

    /// @inheritdoc IVerification
    function evidenceWindow() public view returns (uint256) {
        Parameters storage p = _params;
        return uint256(p.challengeWindow) + p.disputeWindow + p.claimTtl;
    }

    function claimOf(uint256 claimId) external view returns (Claim memory) {
        return _claim(claimId);
    }

    function claimCount() external view returns (uint256) {
        return _claims.length;
    }

    function claimIdOf(address accused, bytes32 session) external view returns (bool exists, uint256 claimId) {
        uint256 plusOne = _sessionClaim[accused][session];
        return plusOne == 0 ? (false, 0) : (true, plusOne - 1);
    }

    function accusersOf(uint256 claimId) external view returns (address[] memory) {
        _claim(claimId);
        return _accusers[claimId];
    }

    function hasConfirmed(uint256 claimId, address verifier) external view returns (bool) {
        return _confirmed[claimId][verifier] || _voted[claimId][verifier];
    }

    function isSpotChecked(address verifier, bytes32 commitmentDigest) external view returns (bool) {
        return _spotChecked[verifier][commitmentDigest];
    }

    function reputationOf(address inferer, uint256 epoch) external view returns (Reputation memory) {
        return _reputation[inferer][epoch];
    }

    function reputationTotal(address inferer) external view returns (Reputation memory) {
        return _reputationTotal[inferer];
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
