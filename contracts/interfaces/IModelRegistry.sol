// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Models the network may serve
/// @notice A creator proposes a model (manifest CID on IPFS, license, family,
/// requirements, royalty address). Lifecycle:
///     Proposed -> Evaluating -> Voting -> Adopted -> Deprecated
///                                      \-> Rejected
/// The creator opens evaluation; active inferers post benchmark results (one each);
/// with at least `minBenchmarks()` results the creator opens the vote, which files a
/// Governor proposal to call `adopt(key)` through the Timelock. Governance
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

    struct Requirements {
        uint32 minMemoryMb; // memory to host the whole model
        uint32 energyMilliJoulePerToken; // declared energy per generated token
        uint32 maxLatencyMs; // per-token latency the model is expected to meet
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
    }

    event ModelProposed(bytes32 indexed key, string modelId, address indexed creator, string manifestCid);
    event ModelEvaluationStarted(bytes32 indexed key);
    event ModelBenchmarkPosted(
        bytes32 indexed key, address indexed inferer, uint64 tokensPerSecMilli, uint64 milliJoulePerToken, uint32 accuracyBps
    );
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

    function propose(
        string calldata modelId,
        string calldata manifestCid,
        string calldata license,
        string calldata family,
        Requirements calldata requirements,
        address royaltyRecipient
    ) external returns (bytes32 key);
    function startEvaluation(bytes32 key) external;
    function postBenchmark(bytes32 key, uint64 tokensPerSecMilli, uint64 milliJoulePerToken, uint32 accuracyBps)
        external;
    function startVoting(bytes32 key) external returns (uint256 proposalId);
    function adopt(bytes32 key) external;
    function reject(bytes32 key) external;
    function finalizeRejected(bytes32 key) external;
    function deprecate(bytes32 key) external;
    function setMinBenchmarks(uint256 newValue) external;
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
    /// @notice The Governor description of the model's current adoption vote ("" before).
    function adoptionDescription(bytes32 key) external view returns (string memory);
    function keyOfManifest(string calldata manifestCid) external view returns (bytes32);
    function keyOf(string calldata modelId) external pure returns (bytes32);
}
