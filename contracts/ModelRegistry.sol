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

    mapping(bytes32 key => Model model) private _models;
    // Benchmarks per round: releasing an id starts a new round for its next owner.
    mapping(bytes32 key => mapping(uint256 round => mapping(address inferer => Benchmark result))) private _benchmarks;
    mapping(bytes32 key => uint256 round) private _rounds;
    mapping(bytes32 cidHash => bytes32 key) private _keyOfCid;
    mapping(bytes32 key => string description) private _voteDescriptions;
    uint256 private _voteNonce;
    bytes32[] private _adopted; // bounded: only governance adds to it
    mapping(bytes32 key => uint256 indexPlusOne) private _adoptedIndex;

    constructor(IStakingRegistry staking_, IGovernor governor_, address admin, uint256 minBenchmarks_) {
        _staking = staking_;
        _governor = governor_;
        _minBenchmarks = minBenchmarks_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNANCE_ROLE, admin);
        emit MinBenchmarksSet(0, minBenchmarks_);
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
        emit ModelEvaluationStarted(key);
    }

    /// @inheritdoc IModelRegistry
    function postBenchmark(bytes32 key, uint64 tokensPerSecMilli, uint64 milliJoulePerToken, uint32 accuracyBps)
        external
    {
        Model storage m = _models[key];
        _requireStatus(key, m.status, ModelStatus.Evaluating);
        if (!_staking.isActive(msg.sender)) revert ModelNotActiveInferer(msg.sender);
        if (accuracyBps > 10_000) revert ModelInvalidBenchmark(accuracyBps);
        mapping(address inferer => Benchmark result) storage round = _benchmarks[key][_rounds[key]];
        if (round[msg.sender].postedAt != 0) revert ModelBenchmarkAlreadyPosted(key, msg.sender);
        round[msg.sender] = Benchmark(tokensPerSecMilli, milliJoulePerToken, accuracyBps, uint64(block.timestamp));
        m.benchmarkCount += 1;
        emit ModelBenchmarkPosted(key, msg.sender, tokensPerSecMilli, milliJoulePerToken, accuracyBps);
    }

    /// @inheritdoc IModelRegistry
    function startVoting(bytes32 key) external returns (uint256 proposalId) {
        Model storage m = _onlyCreator(key);
        _requireStatus(key, m.status, ModelStatus.Evaluating);
        if (m.benchmarkCount < _minBenchmarks) revert ModelNotEnoughBenchmarks(m.benchmarkCount, _minBenchmarks);
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
        _rounds[key] += 1; // the next owner's benchmarks start empty
        emit ModelIdReleased(key);
    }

    /// @inheritdoc IModelRegistry
    function setMinBenchmarks(uint256 newValue) external onlyRole(GOVERNANCE_ROLE) {
        emit MinBenchmarksSet(_minBenchmarks, newValue);
        _minBenchmarks = newValue;
    }

    // --- internals -----------------------------------------------------------------------

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
