// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Spot-checks, fraud claims and slashing
/// @notice Verifiers are staked referees: VERIFIER_ROLE (granted by governance) and an
/// active stake in StakingRegistry. They post spot-check outcomes, which add up to a
/// reputation summary per inferer and epoch (`epochLength()` seconds).
///
/// A fraud claim carries the accused's EIP-712 signed OutputCommitment and at least
/// `minConflicting()` commitments over the same `inputHash` with a different
/// `outputHash`, signed by distinct active inferers other than the accused
/// (independent re-executions; "different" is judged off-chain within a calibrated
/// tolerance, which is why a quorum of verifiers must confirm). The reporter's claim is
/// the first confirmation. Once the challenge window has passed and `quorum()` verifiers
/// confirmed (by transaction, or by signing the EIP-712 FraudClaim), anyone executes the
/// slash: `slashBps` of the accused's stake (own, unbonding, delegated pool) is taken;
/// `burnBps` of it is burned, `reporterBps` goes to the reporter, the rest to the
/// treasury. The accused commitment's digest is marked used: the same evidence never
/// slashes twice.
///
/// EIP-712 domain: name "Heliomesh Verification", version "1".
interface IVerification {
    /// @notice Signed by an inferer per span step (mirrored in node/chain/eip712.py).
    struct OutputCommitment {
        bytes32 session;
        uint32 step;
        bytes32 inputHash;
        bytes32 outputHash;
    }

    struct SignedCommitment {
        OutputCommitment commitment;
        bytes signature;
    }

    /// @notice What verifiers sign to confirm a claim (mirrored in node/chain/eip712.py).
    struct FraudClaim {
        address accused;
        address reporter;
        bytes32 inputHash;
        bytes32 accusedOutputHash;
        bytes32 evidenceHash; // keccak256(abi.encode(bytes32[] commitment digests, accused first))
    }

    struct Claim {
        address accused;
        uint64 deadline; // end of the challenge window
        address reporter;
        uint32 confirmations;
        bool executed;
        bytes32 inputHash;
        bytes32 accusedOutputHash;
        bytes32 evidenceHash;
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
        uint64 challengeWindow; // seconds
    }

    event SpotCheckPosted(address indexed inferer, address indexed verifier, uint256 indexed epoch, bool passed);
    event FraudClaimSubmitted(
        uint256 indexed claimId, address indexed accused, address indexed reporter, bytes32 evidenceHash, uint64 deadline
    );
    event FraudClaimConfirmed(uint256 indexed claimId, address indexed verifier, uint32 confirmations);
    event FraudSlashed(
        uint256 indexed claimId, address indexed accused, uint256 amount, uint256 burned, uint256 toReporter, uint256 toTreasury
    );
    event ParametersSet(Parameters parameters);

    error VerificationNotVerifier(address account);
    error VerificationBadSignature(uint256 index, address signer, address expected);
    error VerificationSignerNotActive(uint256 index, address signer);
    error VerificationDuplicateSigner(uint256 index, address signer);
    error VerificationInputMismatch(uint256 index);
    error VerificationOutputsAgree(uint256 index);
    error VerificationConflictCount(uint256 have, uint256 min, uint256 max);
    error VerificationEvidenceUsed(bytes32 digest);
    error VerificationUnknownClaim(uint256 claimId);
    error VerificationAlreadyConfirmed(uint256 claimId, address verifier);
    error VerificationClaimExecuted(uint256 claimId);
    error VerificationChallengeWindowOpen(uint256 deadline, uint256 now_);
    error VerificationQuorumNotReached(uint256 confirmations, uint256 quorum);
    error VerificationInvalidParameters();
    error VerificationBatchLength(uint256 inferers, uint256 outcomes);

    function postSpotCheck(address inferer, bool passed) external;
    function postSpotChecks(address[] calldata inferers, bool[] calldata passed) external;
    function submitFraudClaim(address accused, SignedCommitment calldata accusedCommitment, SignedCommitment[] calldata conflicting)
        external
        returns (uint256 claimId);
    function confirmClaim(uint256 claimId) external;
    /// @notice Relay verifiers' EIP-712 FraudClaim signatures; each counts once.
    function confirmClaimWithSignatures(uint256 claimId, bytes[] calldata signatures) external;
    function executeSlash(uint256 claimId) external returns (uint256 amount);
    function setParameters(Parameters calldata parameters) external;

    function claimOf(uint256 claimId) external view returns (Claim memory);
    function claimCount() external view returns (uint256);
    function hasConfirmed(uint256 claimId, address verifier) external view returns (bool);
    function isEvidenceUsed(bytes32 commitmentDigest) external view returns (bool);
    function reputationOf(address inferer, uint256 epoch) external view returns (Reputation memory);
    function currentEpoch() external view returns (uint256);
    function epochLength() external view returns (uint256);
    function parameters() external view returns (Parameters memory);
    function isVerifier(address account) external view returns (bool);
    function hashCommitment(OutputCommitment calldata commitment) external view returns (bytes32);
    function hashFraudClaim(FraudClaim calldata claim) external view returns (bytes32);
}
