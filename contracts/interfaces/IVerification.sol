// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Spot-checks, fraud claims, disputes, slashing and jailing
/// @notice Verifiers are staked referees: VERIFIER_ROLE (granted by governance) and an
/// active stake in StakingRegistry. They post spot-check outcomes, once per verifier and
/// commitment digest, which add up to reputation counts per inferer (per epoch of
/// `epochLength()` seconds and lifetime).
///
/// A fraud claim carries the accused's EIP-712 signed OutputCommitment and at least
/// `minConflicting` commitments over the same `inputHash`, signed by distinct active
/// inferers other than the accused (independent re-executions), whose fingerprint
/// digests are equal to each other, not zero, and differ from the accused's. The
/// fingerprint is the tolerant summary of a span's output (docs/verification.md): honest
/// executions agree on it across hardware; "the accused is wrong within tolerance" is
/// judged off chain, which is why a quorum confirms and the accused can dispute.
///
/// One claim per (accused, session). Submitting freezes the accused's stake (own,
/// delegated, unbonding) and records its size: the slash is `slashBps` of that frozen
/// amount. After `challengeWindow` with `quorum` confirmations (reporter included; by
/// transaction or relayed EIP-712 FraudClaim signatures) anyone executes the slash:
/// `burnBps` is burned, the reporter gets `reporterBps` of the part taken from the
/// accused's OWN stake (never from delegators), at most `reporterCap`, the rest goes to
/// the treasury; the accused is jailed for `jailDuration`. A claim not executed within
/// `claimTtl` after its window expires and unfreezes the accused.
///
/// During the challenge window the accused may `dispute`: the claim then needs
/// `disputeQuorum` guilty votes from verifiers who are not among its accusers (reporter,
/// confirmers, conflicting signers), and more guilty than innocent votes, by the end of
/// `disputeWindow`. Upheld: the accused is slashed and jailed as above. Otherwise every
/// accuser loses `slashBps` of its stake (the accused gets the reporter's part) and the
/// accused is unfrozen. Accusers are frozen while the dispute runs.
///
/// `challengeWindow + disputeWindow + claimTtl` (the evidence window) never exceeds the
/// StakingRegistry's unbonding delay, so nobody slashable can leave before a slash lands.
///
/// EIP-712 domain: name "Heliomesh Verification", version "1".
interface IVerification {
    /// @notice Signed by an inferer per span step (mirrored in node/crypto/eip712.py).
    struct OutputCommitment {
        bytes32 session;
        uint32 step;
        bytes32 inputHash;
        bytes32 outputHash; // exact output bytes
        bytes32 fingerprintHash; // keccak256 of the output's fingerprint blob
    }

    struct SignedCommitment {
        OutputCommitment commitment;
        bytes signature;
    }

    /// @notice What verifiers sign to confirm a claim (mirrored in node/crypto/eip712.py).
    struct FraudClaim {
        address accused;
        address reporter;
        bytes32 inputHash;
        bytes32 accusedOutputHash;
        bytes32 evidenceHash; // keccak256(abi.encode(bytes32[] commitment digests, accused first))
    }

    enum ClaimStatus {
        Open,
        Disputed,
        Slashed,
        Rejected, // lost its dispute: the accusers were slashed
        Expired
    }

    struct Claim {
        address accused;
        uint64 deadline; // end of the challenge window
        address reporter;
        uint32 confirmations; // reporter included; after a dispute: the committee's guilty votes
        ClaimStatus status;
        uint64 disputeDeadline; // 0 unless disputed
        uint32 rejections; // the committee's innocent votes
        bytes32 session;
        bytes32 inputHash;
        bytes32 accusedOutputHash;
        bytes32 evidenceHash;
        uint256 frozenStake; // the accused's slashable stake at submission
    }

    struct Reputation {
        uint32 passed;
        uint32 failed;
    }

    struct Parameters {
        uint16 slashBps;
        uint16 burnBps;
        uint16 reporterBps; // burnBps + reporterBps <= 10000; the rest goes to the treasury
        uint16 quorum; // confirmations needed, reporter included
        uint16 minConflicting;
        uint64 challengeWindow; // seconds after submission: confirmations and disputes
        uint64 claimTtl; // seconds after the challenge window to execute, else expired
        uint64 disputeWindow; // seconds the escalated committee has to vote
        uint16 disputeQuorum; // guilty votes a disputed claim needs (> quorum)
        uint64 jailDuration; // seconds before a slashed inferer may register again
        uint128 reporterCap; // token wei: the most a reporter (or wronged accused) receives
    }

    event SpotCheckPosted(
        address indexed inferer, address indexed verifier, uint256 indexed epoch, bytes32 digest, bool passed
    );
    event FraudClaimSubmitted(
        uint256 indexed claimId, address indexed accused, address indexed reporter, bytes32 evidenceHash, uint64 deadline
    );
    event FraudClaimConfirmed(uint256 indexed claimId, address indexed verifier, uint32 confirmations);
    event ClaimDisputed(uint256 indexed claimId, uint64 disputeDeadline);
    event ClaimRejectVote(uint256 indexed claimId, address indexed verifier, uint32 rejections);
    event FraudSlashed(
        uint256 indexed claimId, address indexed accused, uint256 amount, uint256 burned, uint256 toReporter, uint256 toTreasury
    );
    event AccusersSlashed(uint256 indexed claimId, uint256 amount, uint256 toAccused);
    event ClaimExpired(uint256 indexed claimId);
    event ParametersSet(Parameters parameters);

    error VerificationNotVerifier(address account);
    error VerificationBadSignature(uint256 index, address signer, address expected);
    error VerificationSignerNotActive(uint256 index, address signer);
    error VerificationDuplicateSigner(uint256 index, address signer);
    error VerificationInputMismatch(uint256 index);
    error VerificationFingerprintsAgree(uint256 index);
    error VerificationConflictsDisagree(uint256 index);
    error VerificationConflictCount(uint256 have, uint256 min, uint256 max);
    error VerificationSessionClaimed(address accused, bytes32 session);
    error VerificationUnknownClaim(uint256 claimId);
    error VerificationAlreadyConfirmed(uint256 claimId, address verifier);
    error VerificationWrongStatus(uint256 claimId, ClaimStatus status);
    error VerificationChallengeWindowOpen(uint256 deadline, uint256 now_);
    error VerificationWindowClosed(uint256 deadline, uint256 now_);
    error VerificationQuorumNotReached(uint256 confirmations, uint256 quorum);
    error VerificationNotAccused(address account);
    error VerificationAccuserVotes(uint256 claimId, address verifier);
    error VerificationTooManyAccusers(uint256 claimId);
    error VerificationAlreadySpotChecked(address verifier, bytes32 digest);
    error VerificationInvalidParameters();
    error VerificationEvidenceWindowTooLong(uint256 window, uint256 unbondingDelay);
    error VerificationBatchLength(uint256 inferers, uint256 outcomes);

    /// @notice Record one spot-check of `inferer`'s commitment `commitmentDigest`.
    function postSpotCheck(address inferer, bytes32 commitmentDigest, bool passed) external;
    function postSpotChecks(address[] calldata inferers, bytes32[] calldata digests, bool[] calldata passed) external;
    function submitFraudClaim(address accused, SignedCommitment calldata accusedCommitment, SignedCommitment[] calldata conflicting)
        external
        returns (uint256 claimId);
    /// @notice A guilty vote: a confirmation while open, a committee vote while disputed.
    function confirmClaim(uint256 claimId) external;
    /// @notice Relay verifiers' EIP-712 FraudClaim signatures; each counts once (open claims).
    function confirmClaimWithSignatures(uint256 claimId, bytes[] calldata signatures) external;
    /// @notice The accused escalates its claim to a larger committee (challenge window only).
    function dispute(uint256 claimId) external;
    /// @notice An innocent vote of a committee member on a disputed claim.
    function rejectClaim(uint256 claimId) external;
    function executeSlash(uint256 claimId) external returns (uint256 amount);
    /// @notice After the dispute window: slash the accused or, if not upheld, its accusers.
    function resolveDispute(uint256 claimId) external;
    /// @notice Close a claim nobody executed within `claimTtl` after its window.
    function expireClaim(uint256 claimId) external;
    function setParameters(Parameters calldata parameters) external;

    function claimOf(uint256 claimId) external view returns (Claim memory);
    function claimCount() external view returns (uint256);
    function claimIdOf(address accused, bytes32 session) external view returns (bool exists, uint256 claimId);
    function accusersOf(uint256 claimId) external view returns (address[] memory);
    function hasConfirmed(uint256 claimId, address verifier) external view returns (bool);
    function isSpotChecked(address verifier, bytes32 commitmentDigest) external view returns (bool);
    function reputationOf(address inferer, uint256 epoch) external view returns (Reputation memory);
    function reputationTotal(address inferer) external view returns (Reputation memory);
    function currentEpoch() external view returns (uint256);
    function epochLength() external view returns (uint256);
    function evidenceWindow() external view returns (uint256);
    function parameters() external view returns (Parameters memory);
    function isVerifier(address account) external view returns (bool);
    function hashCommitment(OutputCommitment calldata commitment) external view returns (bytes32);
    function hashFraudClaim(FraudClaim calldata claim) external view returns (bytes32);
}
