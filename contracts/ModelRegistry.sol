// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title ModelRegistry
/// @notice See IModelRegistry.
contract ModelRegistry is IModelRegistry, AccessControl {
    /// @notice Held by the Timelock: adopt, reject, deprecate, parameters.
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    uint256 private constant _MAX_ID = 64;
    uint256 private constant _MAX_CID = 128;
    uint256 private constant _MAX_TEXT = 64;

    IStakingRegistry private immutable _staking;
    IGovernor private immutable _governor;
    uint256 private _minBenchmarks;
    uint256 private _evaluationPeriod;

    mapping(bytes32 key => Model model) private _models;
    mapping(bytes32 key => Evaluation evaluation) private _evaluations;
    // Benchmarks per round: releasing an id starts a new round for its next owner.
    mapping(bytes32 key => mapping(uint256 round => mapping(address inferer => Benchmark result))) private _benchmarks;
    mapping(bytes32 key => uint256 round) private _rounds;
    mapping(bytes32 cidHash => bytes32 key) private _keyOfCid;
    mapping(bytes32 key => string description) private _voteDescriptions;
    uint256 private _voteNonce;
    bytes32[] private _adopted; // bounded: only governance adds to it
    mapping(bytes32 key => uint256 indexPlusOne) private _adoptedIndex;

    constructor(
        IStakingRegistry staking_,
        IGovernor governor_,
        address admin,
        uint256 minBenchmarks_,
        uint256 evaluationPeriod_
    ) {
        _staking = staking_;
        _governor = governor_;
        _minBenchmarks = minBenchmarks_;
        _evaluationPeriod = evaluationPeriod_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNANCE_ROLE, admin);
        emit MinBenchmarksSet(0, minBenchmarks_);
        emit EvaluationPeriodSet(0, evaluationPeriod_);
    }

    /// @inheritdoc IModelRegistry
    function propose(
        string calldata modelId,
        string calldata manifestCid,
        string calldata license,
        string calldata family,
        Requirements calldata requirements,
        address royaltyRecipient
    ) external returns (bytes32 key) {
        _checkModelId(modelId);
        uint256 cidLength = bytes(manifestCid).length;
        if (cidLength == 0 || cidLength > _MAX_CID) revert ModelInvalidCid(cidLength);
        if (bytes(license).length == 0 || bytes(license).length > _MAX_TEXT) {
            revert ModelInvalidText(bytes(license).length);
        }
        if (bytes(family).length == 0 || bytes(family).length > _MAX_TEXT) {
            revert ModelInvalidText(bytes(family).length);
        }
        if (royaltyRecipient == address(0)) revert ModelInvalidRoyaltyRecipient();
        key = keccak256(bytes(modelId));
        Model storage m = _models[key];
        if (m.status != ModelStatus.None) revert ModelAlreadyProposed(key);
        _claimManifest(key, manifestCid);
        m.creator = msg.sender;
        m.status = ModelStatus.Proposed;
        m.proposedAt = uint64(block.timestamp);
        m.royaltyRecipient = royaltyRecipient;
        m.requirements = requirements;
        m.modelId = modelId;
        m.manifestCid = manifestCid;
        m.license = license;
        m.family = family;
        emit ModelProposed(key, modelId, msg.sender, manifestCid);
    }

    /// @inheritdoc IModelRegistry
    function startEvaluation(bytes32 key) external {
        Model storage m = _onlyCreator(key);
        _requireStatus(key, m.status, ModelStatus.Proposed);
        m.status = ModelStatus.Evaluating;
        _evaluations[key].startedAt = uint64(block.timestamp);
        emit ModelEvaluationStarted(key);
    }

    /// @inheritdoc IModelRegistry
    function postBenchmark(
        bytes32 key,
        uint64 tokensPerSecMilli,
        uint64 milliJoulePerToken,
        uint32 accuracyBps,
        uint32 memoryMb
    ) external {
        Model storage m = _models[key];
        _requireStatus(key, m.status, ModelStatus.Evaluating);
        if (!_staking.isActive(msg.sender)) revert ModelNotActiveInferer(msg.sender);
        if (accuracyBps > 10_000) revert ModelInvalidBenchmark(accuracyBps);
        mapping(address inferer => Benchmark result) storage round = _benchmarks[key][_rounds[key]];
        if (round[msg.sender].postedAt != 0) revert ModelBenchmarkAlreadyPosted(key, msg.sender);
        round[msg.sender] =
            Benchmark(tokensPerSecMilli, milliJoulePerToken, accuracyBps, uint64(block.timestamp), memoryMb);
        m.benchmarkCount += 1;
        // Fold it into the running verdict now, so closing needs no loop over inferers.
        Evaluation storage e = _evaluations[key];
        Requirements storage r = m.requirements;
        bool energyOk = r.energyMilliJoulePerToken == 0 || milliJoulePerToken <= r.energyMilliJoulePerToken;
        // per-token latency = 1000 ms / (tokensPerSecMilli / 1000) <= maxLatencyMs
        bool latencyOk = r.maxLatencyMs == 0 || uint256(tokensPerSecMilli) * r.maxLatencyMs >= 1_000_000;
        if (m.benchmarkCount == 1 || milliJoulePerToken < e.bestMilliJoulePerToken) {
            e.bestMilliJoulePerToken = milliJoulePerToken;
        }
        if (tokensPerSecMilli > e.bestTokensPerSecMilli) e.bestTokensPerSecMilli = tokensPerSecMilli;
        if (energyOk) e.energyMet = true;
        if (latencyOk) e.latencyMet = true;
        if (energyOk && latencyOk) {
            e.qualified += 1;
            e.qualifiedMemoryMb += memoryMb;
        }
        emit ModelBenchmarkPosted(
            key, msg.sender, tokensPerSecMilli, milliJoulePerToken, accuracyBps, memoryMb, energyOk && latencyOk
        );
    }

    /// @inheritdoc IModelRegistry
    function startVoting(bytes32 key) external returns (uint256 proposalId) {
        Model storage m = _onlyCreator(key);
        _requireStatus(key, m.status, ModelStatus.Evaluating);
        if (m.benchmarkCount < _minBenchmarks) revert ModelNotEnoughBenchmarks(m.benchmarkCount, _minBenchmarks);
        (EvaluationFailure reason, uint256 have, uint256 need) = _verdict(m, _evaluations[key]);
        if (reason != EvaluationFailure.None) revert ModelRequirementsNotMet(key, reason, have, need);
        return _openVote(key, m);
    }

    /// @inheritdoc IModelRegistry
    function closeEvaluation(bytes32 key) external returns (uint256 proposalId) {
        Model storage m = _models[key];
        _requireStatus(key, m.status, ModelStatus.Evaluating);
        Evaluation storage e = _evaluations[key];
        uint256 closesAt = uint256(e.startedAt) + _evaluationPeriod;
        if (block.timestamp < closesAt) revert ModelEvaluationStillOpen(key, closesAt);
        (EvaluationFailure reason, uint256 have, uint256 need) = _verdict(m, e);
        if (reason == EvaluationFailure.None) return _openVote(key, m);
        m.status = ModelStatus.Rejected;
        e.failure = reason;
        e.failedHave = have;
        e.failedNeed = need;
        emit ModelEvaluationFailed(key, reason, have, need);
        emit ModelRejected(key);
        return 0;
    }

    /// @inheritdoc IModelRegistry
    function adopt(bytes32 key) external onlyRole(GOVERNANCE_ROLE) {
        Model storage m = _models[key];
        _requireUndecided(key, m.status);
        m.status = ModelStatus.Adopted;
        _adopted.push(key);
        _adoptedIndex[key] = _adopted.length;
        emit ModelAdopted(key, m.modelId);
    }

    /// @inheritdoc IModelRegistry
    function reject(bytes32 key) external onlyRole(GOVERNANCE_ROLE) {
        Model storage m = _models[key];
        _requireUndecided(key, m.status);
        m.status = ModelStatus.Rejected;
        emit ModelRejected(key);
    }

    /// @inheritdoc IModelRegistry
    function finalizeRejected(bytes32 key) external {
        Model storage m = _models[key];
        _requireStatus(key, m.status, ModelStatus.Voting);
        IGovernor.ProposalState state = _governor.state(m.proposalId);
        if (
            state != IGovernor.ProposalState.Defeated && state != IGovernor.ProposalState.Canceled
                && state != IGovernor.ProposalState.Expired
        ) revert ModelVoteNotFinished(m.proposalId, uint8(state));
        m.status = ModelStatus.Rejected;
        emit ModelRejected(key);
    }

    /// @inheritdoc IModelRegistry
    function deprecate(bytes32 key) external onlyRole(GOVERNANCE_ROLE) {
        Model storage m = _models[key];
        _requireStatus(key, m.status, ModelStatus.Adopted);
        m.status = ModelStatus.Deprecated;
        // Swap-and-pop keeps the adopted list dense.
        uint256 index = _adoptedIndex[key] - 1;
        bytes32 last = _adopted[_adopted.length - 1];
        _adopted[index] = last;
        _adoptedIndex[last] = index + 1;
        _adopted.pop();
        delete _adoptedIndex[key];
        emit ModelDeprecated(key);
    }

    /// @inheritdoc IModelRegistry
    function releaseId(bytes32 key) external onlyRole(GOVERNANCE_ROLE) {
        Model storage m = _models[key];
        ModelStatus status = m.status;
        if (status == ModelStatus.None) revert ModelUnknown(key);
        if (status == ModelStatus.Voting || status == ModelStatus.Adopted) revert ModelWrongStatus(key, status);
        delete _keyOfCid[keccak256(bytes(m.manifestCid))];
        delete _models[key];
        delete _voteDescriptions[key];
        delete _evaluations[key];
        _rounds[key] += 1; // the next owner's benchmarks start empty
        emit ModelIdReleased(key);
    }

    /// @inheritdoc IModelRegistry
    function setMinBenchmarks(uint256 newValue) external onlyRole(GOVERNANCE_ROLE) {
        emit MinBenchmarksSet(_minBenchmarks, newValue);
        _minBenchmarks = newValue;
    }

    /// @inheritdoc IModelRegistry
    function setEvaluationPeriod(uint256 newValue) external onlyRole(GOVERNANCE_ROLE) {
        emit EvaluationPeriodSet(_evaluationPeriod, newValue);
        _evaluationPeriod = newValue;
    }

    // --- internals -----------------------------------------------------------------------

    /// @dev Files the Governor proposal to adopt `key` and moves the model to Voting.
    function _openVote(bytes32 key, Model storage m) private returns (uint256 proposalId) {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _adoptCall(key);
        // A fresh nonce and OpenZeppelin's `#proposer=` suffix: only this registry can file
        // this proposal, so nobody can front-run it with the identical one and cancel that.
        string memory description = string.concat(
            "Adopt model ", m.modelId, " (vote ", Strings.toString(++_voteNonce), ")#proposer=",
            Strings.toHexString(address(this))
        );
        _voteDescriptions[key] = description;
        // Effects first: the Governor's proposal id is the hash of the proposal, known
        // before the call; the call then must file exactly that proposal.
        proposalId = _governor.hashProposal(targets, values, calldatas, keccak256(bytes(description)));
        m.status = ModelStatus.Voting;
        m.proposalId = proposalId;
        emit ModelVotingStarted(key, proposalId);
        uint256 filed = _governor.propose(targets, values, calldatas, description);
        assert(filed == proposalId); // OpenZeppelin's Governor ids are hashProposal()
    }

    /// @dev The first unmet requirement, in the order a creator can act on it.
    function _verdict(Model storage m, Evaluation storage e)
        private
        view
        returns (EvaluationFailure reason, uint256 have, uint256 need)
    {
        if (e.failure != EvaluationFailure.None) return (e.failure, e.failedHave, e.failedNeed);
        Requirements storage r = m.requirements;
        if (m.benchmarkCount < _minBenchmarks || m.benchmarkCount == 0) {
            return (EvaluationFailure.TooFewBenchmarks, m.benchmarkCount, _minBenchmarks > 0 ? _minBenchmarks : 1);
        }
        if (!e.energyMet) return (EvaluationFailure.Energy, e.bestMilliJoulePerToken, r.energyMilliJoulePerToken);
        if (!e.latencyMet) {
            // the best per-token latency in ms, rounded up: 10^6 / tokensPerSecMilli
            uint256 best = e.bestTokensPerSecMilli == 0
                ? type(uint64).max
                : (1_000_000 + e.bestTokensPerSecMilli - 1) / e.bestTokensPerSecMilli;
            return (EvaluationFailure.Latency, best, r.maxLatencyMs);
        }
        if (e.qualified == 0) return (EvaluationFailure.EnergyAndLatency, 0, 1);
        if (e.qualifiedMemoryMb < r.minMemoryMb) {
            return (EvaluationFailure.Memory, e.qualifiedMemoryMb, r.minMemoryMb);
        }
        return (EvaluationFailure.None, 0, 0);
    }

    /// @dev One id per manifest: the same weights proposed again under a new id are refused.
    function _claimManifest(bytes32 key, string calldata manifestCid) private {
        bytes32 cidHash = keccak256(bytes(manifestCid));
        bytes32 original = _keyOfCid[cidHash];
        if (original != bytes32(0)) revert ModelDuplicateManifest(original, _models[original].modelId);
        _keyOfCid[cidHash] = key;
    }

    function _onlyCreator(bytes32 key) private view returns (Model storage m) {
        m = _models[key];
        if (m.status == ModelStatus.None) revert ModelUnknown(key);
        if (m.creator != msg.sender) revert ModelNotCreator(key, msg.sender);
    }

    function _requireStatus(bytes32 key, ModelStatus have, ModelStatus want) private pure {
        if (have == ModelStatus.None) revert ModelUnknown(key);
        if (have != want) revert ModelWrongStatus(key, have);
    }

    function _requireUndecided(bytes32 key, ModelStatus have) private pure {
        if (have == ModelStatus.None) revert ModelUnknown(key);
        if (have != ModelStatus.Proposed && have != ModelStatus.Evaluating && have != ModelStatus.Voting) {
            revert ModelWrongStatus(key, have);
        }
    }

    /// @dev lowercase [a-z0-9] runs joined by single hyphens, 1..64 bytes (node/core/names.py).
    function _checkModelId(string calldata modelId) private pure {
        bytes calldata b = bytes(modelId);
        uint256 n = b.length;
        if (n == 0 || n > _MAX_ID || b[0] == "-" || b[n - 1] == "-") revert ModelInvalidId(modelId);
        for (uint256 i = 0; i < n; ++i) {
            bytes1 c = b[i];
            bool ok = (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || (c == "-" && b[i - 1] != "-");
            if (!ok) revert ModelInvalidId(modelId);
        }
    }

    function _adoptCall(bytes32 key)
        private
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        targets[0] = address(this);
        calldatas[0] = abi.encodeCall(IModelRegistry.adopt, (key));
    }

    // --- views ---------------------------------------------------------------------------

    function modelOf(bytes32 key) external view returns (Model memory) {
        return _models[key];
    }

    function statusOf(bytes32 key) external view returns (ModelStatus) {
        return _models[key].status;
    }

    function isAdopted(bytes32 key) external view returns (bool) {
        return _models[key].status == ModelStatus.Adopted;
    }

    function royaltyRecipientOf(bytes32 key) external view returns (address) {
        Model storage m = _models[key];
        // Royalties are earned by serving: only a model governance adopted (or later deprecated).
        if (m.status != ModelStatus.Adopted && m.status != ModelStatus.Deprecated) return address(0);
        return m.royaltyRecipient;
    }

    function benchmarkOf(bytes32 key, address inferer) external view returns (Benchmark memory) {
        return _benchmarks[key][_rounds[key]][inferer];
    }

    function keyOfManifest(string calldata manifestCid) external view returns (bytes32) {
        return _keyOfCid[keccak256(bytes(manifestCid))];
    }

    function adoptedModels() external view returns (bytes32[] memory) {
        return _adopted;
    }

    function minBenchmarks() external view returns (uint256) {
        return _minBenchmarks;
    }

    function evaluationPeriod() external view returns (uint256) {
        return _evaluationPeriod;
    }

    function evaluationOf(bytes32 key) external view returns (Evaluation memory) {
        return _evaluations[key];
    }

    function evaluationVerdict(bytes32 key)
        external
        view
        returns (EvaluationFailure reason, uint256 have, uint256 need)
    {
        Model storage m = _models[key];
        if (m.status == ModelStatus.None) revert ModelUnknown(key);
        return _verdict(m, _evaluations[key]);
    }

    function adoptionDescription(bytes32 key) external view returns (string memory) {
        return _voteDescriptions[key];
    }

    function keyOf(string calldata modelId) external pure returns (bytes32) {
        return keccak256(bytes(modelId));
    }

    function staking() external view returns (address) {
        return address(_staking);
    }

    function governor() external view returns (address) {
        return address(_governor);
    }
}
