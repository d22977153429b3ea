// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Models the network may serve
/// @notice A creator proposes a model (manifest CID on IPFS, license, family,
/// requirements, royalty address). Lifecycle:
///     Proposed -> Evaluating -> Voting -> Adopted -> Deprecated
///                                      \-> Rejected
/// The creator opens evaluation; active inferers post benchmark results (one each), each
/// with the memory the inferer offers. A benchmark *qualifies* when its energy per token
/// is within the proposal's bound and its per-token latency (1000 ms / tokens per s) too;
/// the qualifying inferers are the fleet that could serve the model, sharded, so their
/// memory adds up. The evaluation *passes* with at least `minBenchmarks()` results, one
/// qualifying, and the fleet's memory >= `minMemoryMb` (a zero bound is no bound). The
/// creator opens the vote as soon as it passes (`startVoting`), which files a Governor
/// proposal to call `adopt(key)` through the Timelock. Once `evaluationPeriod()` has
/// passed anyone may close it (`closeEvaluation`): a passing evaluation opens the vote, a
/// failing one rejects the model with `ModelEvaluationFailed(key, reason, have, need)`. Governance
/// (GOVERNANCE_ROLE, the Timelock) adopts, rejects and deprecates; anyone can record a
/// rejection once the Governor proposal was defeated, canceled or expired.
/// A model's key is keccak256(bytes(modelId)); ids are lowercase [a-z0-9-], <= 64 bytes.
/// A manifest CID belongs to one id (`ModelDuplicateManifest` names the first); governance
/// can release a squatted or dead id (`releaseId`) so it can be proposed again. Adoption
/// votes carry a nonce and OpenZeppelin's `#proposer=<this registry>` description suffix,
/// so nobody else can file (and cancel) the same proposal first. The creator's royalty
/// (`royaltyRecipientOf`) exists only while the model is adopted or deprecated.
interface IModelRegistry {
    enum ModelStatus {
        None,
        Proposed,
        Evaluating,
        Voting,
        Adopted,
        Rejected,
        Deprecated
    }

    /// Why an evaluation failed (`None`: it has not, or not yet).
    enum EvaluationFailure {
        None,
        TooFewBenchmarks, // fewer than minBenchmarks() were posted in the period
        Energy, // no inferer ran it within the energy per token bound
        Latency, // no inferer ran it within the per-token latency bound
        EnergyAndLatency, // some met one bound, some the other, none both
        Memory // the inferers that met both bounds offer less memory than it needs
    }

    struct Requirements {
        uint32 minMemoryMb; // memory to host the whole model (0: no bound)
        uint32 energyMilliJoulePerToken; // the most energy per generated token (0: no bound)
        uint32 maxLatencyMs; // the most per-token latency (0: no bound)
    }

    struct Model {
        address creator;
        ModelStatus status;
        uint64 proposedAt;
        address royaltyRecipient; // receives the creator share of payments
        uint32 benchmarkCount;
        uint256 proposalId; // Governor proposal of the adoption vote (0 before)
        Requirements requirements;
        string modelId;
        string manifestCid;
        string license;
        string family;
    }

    struct Benchmark {
        uint64 tokensPerSecMilli; // tokens/s x 1000
        uint64 milliJoulePerToken;
        uint32 accuracyBps; // task accuracy, 0..10000
        uint64 postedAt;
        uint32 memoryMb; // memory the inferer offers to serve the model
    }

    /// What the posted benchmarks add up to, kept as they arrive (no loop at the close).
    struct Evaluation {
        uint64 startedAt; // when the creator opened it
        uint32 qualified; // benchmarks within both the energy and the latency bound
        uint64 qualifiedMemoryMb; // memory those inferers offer, summed: the fleet
        uint64 bestMilliJoulePerToken; // lowest posted (meaningful once one is posted)
        uint64 bestTokensPerSecMilli; // highest posted
        bool energyMet; // some benchmark was within the energy bound
        bool latencyMet; // some benchmark was within the latency bound
        EvaluationFailure failure; // set when it failed, with its measure:
        uint256 failedHave;
        uint256 failedNeed;
    }

    event ModelProposed(bytes32 indexed key, string modelId, address indexed creator, string manifestCid);
    event ModelEvaluationStarted(bytes32 indexed key);
    event ModelBenchmarkPosted(
        bytes32 indexed key,
        address indexed inferer,
        uint64 tokensPerSecMilli,
        uint64 milliJoulePerToken,
        uint32 accuracyBps,
        uint32 memoryMb,
        bool qualified
    );
    /// @notice The evaluation closed failing: the model is Rejected. `have` and `need` are
    /// the failed measure: benchmarks posted vs minBenchmarks (TooFewBenchmarks), the best
    /// posted mJ/token vs the bound (Energy), the best latency in ms vs the bound (Latency),
    /// 0 vs 1 qualifying inferer (EnergyAndLatency), the fleet's MB vs minMemoryMb (Memory).
    event ModelEvaluationFailed(bytes32 indexed key, EvaluationFailure reason, uint256 have, uint256 need);
    event EvaluationPeriodSet(uint256 oldValue, uint256 newValue);
    event ModelVotingStarted(bytes32 indexed key, uint256 proposalId);
    event ModelAdopted(bytes32 indexed key, string modelId);
    event ModelRejected(bytes32 indexed key);
    event ModelDeprecated(bytes32 indexed key);
    event MinBenchmarksSet(uint256 oldValue, uint256 newValue);
    event ModelIdReleased(bytes32 indexed key);

    error ModelInvalidId(string modelId);
    error ModelInvalidCid(uint256 length);
    error ModelInvalidText(uint256 length);
    error ModelInvalidRoyaltyRecipient();
    error ModelAlreadyProposed(bytes32 key);
    error ModelDuplicateManifest(bytes32 originalKey, string originalModelId);
    error ModelUnknown(bytes32 key);
    error ModelWrongStatus(bytes32 key, ModelStatus status);
    error ModelNotCreator(bytes32 key, address caller);
    error ModelNotActiveInferer(address caller);
    error ModelBenchmarkAlreadyPosted(bytes32 key, address inferer);
    error ModelInvalidBenchmark(uint32 accuracyBps);
    error ModelNotEnoughBenchmarks(uint256 have, uint256 need);
    error ModelVoteNotFinished(uint256 proposalId, uint8 governorState);
    /// @notice startVoting: the evaluation does not pass (yet): more benchmarks may, or it
    /// fails when the period closes. Same `have`/`need` as ModelEvaluationFailed.
    error ModelRequirementsNotMet(bytes32 key, EvaluationFailure reason, uint256 have, uint256 need);
    /// @notice closeEvaluation before the evaluation period is over.
    error ModelEvaluationStillOpen(bytes32 key, uint256 closesAt);

    function propose(
        string calldata modelId,
        string calldata manifestCid,
        string calldata license,
        string calldata family,
        Requirements calldata requirements,
        address royaltyRecipient
    ) external returns (bytes32 key);
    function startEvaluation(bytes32 key) external;
    function postBenchmark(
        bytes32 key,
        uint64 tokensPerSecMilli,
        uint64 milliJoulePerToken,
        uint32 accuracyBps,
        uint32 memoryMb
    ) external;
    /// @notice The creator opens the vote once the evaluation passes.
    function startVoting(bytes32 key) external returns (uint256 proposalId);
    /// @notice Anyone, once evaluationPeriod() is over: a passing evaluation opens the vote
    /// (returns its proposal id), a failing one rejects the model with the reason (returns 0).
    function closeEvaluation(bytes32 key) external returns (uint256 proposalId);
    function adopt(bytes32 key) external;
    function reject(bytes32 key) external;
    function finalizeRejected(bytes32 key) external;
    function deprecate(bytes32 key) external;
    function setMinBenchmarks(uint256 newValue) external;
    function setEvaluationPeriod(uint256 newValue) external;
    /// @notice Governance: forget a model that is not voting or adopted; its id and
    /// manifest CID can be proposed again (by anyone).
    function releaseId(bytes32 key) external;

    function modelOf(bytes32 key) external view returns (Model memory);
    function statusOf(bytes32 key) external view returns (ModelStatus);
    function isAdopted(bytes32 key) external view returns (bool);
    function royaltyRecipientOf(bytes32 key) external view returns (address);
    function benchmarkOf(bytes32 key, address inferer) external view returns (Benchmark memory);
    function adoptedModels() external view returns (bytes32[] memory);
    function minBenchmarks() external view returns (uint256);
    function evaluationPeriod() external view returns (uint256);
    function evaluationOf(bytes32 key) external view returns (Evaluation memory);
    /// @notice The verdict if the evaluation closed now (None: it passes); for a model its
    /// evaluation rejected, the verdict it closed with.
    function evaluationVerdict(bytes32 key) external view returns (EvaluationFailure reason, uint256 have, uint256 need);
    /// @notice The Governor description of the model's current adoption vote ("" before).
    function adoptionDescription(bytes32 key) external view returns (string memory);
    function keyOfManifest(string calldata manifestCid) external view returns (bytes32);
    function keyOf(string calldata modelId) external pure returns (bytes32);
}
