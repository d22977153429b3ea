// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorProposalGuardian} from
    "@openzeppelin/contracts/governance/extensions/GovernorProposalGuardian.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from
    "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {IHelioGovernor} from "./interfaces/IHelioGovernor.sol";

/// @title HelioGovernor
/// @notice See IHelioGovernor. Block-number clock (StakingRegistry's).
contract HelioGovernor is
    IHelioGovernor,
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorProposalGuardian,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorTimelockControl
{
    uint256 private constant _BPS = 10_000;
    uint256 private _supermajorityBps;
    address private immutable _deployer;
    address private _modelRegistry;

    /// @param votes StakingRegistry (IERC5805)
    /// @param quorumPercent quorum as a percentage of total voting power at the snapshot
    /// @param proposalThreshold_ voting power a proposer needs (> 0: no free spam)
    /// @param guardian_ may cancel any proposal until it executes (the Timelock's veto);
    /// governance replaces or removes it (`setProposalGuardian`)
    constructor(
        IVotes votes,
        TimelockController timelock_,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 quorumPercent,
        uint256 supermajorityBps_,
        uint256 proposalThreshold_,
        address guardian_
    )
        Governor("Heliomesh Governor")
        GovernorSettings(votingDelay_, votingPeriod_, proposalThreshold_)
        GovernorVotes(votes)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock_)
    {
        if (proposalThreshold_ == 0) revert GovernorZeroProposalThreshold();
        _setSupermajority(supermajorityBps_);
        _setProposalGuardian(guardian_);
        _deployer = msg.sender;
    }

    /// @inheritdoc IHelioGovernor
    function modelRegistry() external view returns (address) {
        return _modelRegistry;
    }

    /// @inheritdoc IHelioGovernor
    function setModelRegistry(address registry) external {
        // Once by the deployer while wiring (the registry is deployed after the Governor),
        // from then on only through a vote.
        if (_modelRegistry != address(0) || _msgSender() != _deployer) _checkGovernance();
        emit ModelRegistrySet(_modelRegistry, registry);
        _modelRegistry = registry;
    }

    /// @dev The ModelRegistry files adoption votes for creators without voting power: it
    /// skips the threshold (its own gate is the inferers' benchmarks). Everyone else needs
    /// `proposalThreshold()`.
    function propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) public override returns (uint256) {
        address proposer = _msgSender();
        if (proposer != _modelRegistry || proposer == address(0)) {
            return super.propose(targets, values, calldatas, description);
        }
        if (!_isValidDescriptionForProposer(proposer, description)) revert GovernorRestrictedProposer(proposer);
        return _propose(targets, values, calldatas, description, proposer);
    }

    /// @inheritdoc IHelioGovernor
    function supermajorityBps() external view returns (uint256) {
        return _supermajorityBps;
    }

    /// @inheritdoc IHelioGovernor
    function setSupermajority(uint256 newBps) external onlyGovernance {
        _setSupermajority(newBps);
    }

    function _setSupermajority(uint256 newBps) private {
        if (newBps <= _BPS / 2 || newBps > _BPS) revert GovernorInvalidSupermajority(newBps);
        emit SupermajoritySet(_supermajorityBps, newBps);
        _supermajorityBps = newBps;
    }

    /// @dev For >= supermajority of For + Against (instead of a simple majority).
    function _voteSucceeded(uint256 proposalId)
        internal
        view
        override(Governor, GovernorCountingSimple)
        returns (bool)
    {
        (uint256 againstVotes, uint256 forVotes,) = proposalVotes(proposalId);
        uint256 cast = forVotes + againstVotes;
        return cast != 0 && forVotes * _BPS >= cast * _supermajorityBps;
    }

    // --- the overrides Solidity requires between the OpenZeppelin extensions ---------------

    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function quorum(uint256 timepoint) public view override(Governor, GovernorVotesQuorumFraction) returns (uint256) {
        return super.quorum(timepoint);
    }

    function state(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (ProposalState)
    {
        return super.state(proposalId);
    }

    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    /// @dev The guardian's veto stops at its own replacement: a proposal whose every call
    /// is `setProposalGuardian` on this Governor cannot be cancelled by the guardian.
    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        if (_msgSender() == proposalGuardian() && _onlyReplacesGuardian(targets, calldatas)) {
            revert GovernorGuardianCannotVetoReplacement();
        }
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _onlyReplacesGuardian(address[] memory targets, bytes[] memory calldatas) private view returns (bool) {
        for (uint256 i = 0; i < targets.length; ++i) {
            if (targets[i] != address(this) || calldatas[i].length < 4) return false;
            if (bytes4(calldatas[i]) != this.setProposalGuardian.selector) return false;
        }
        return targets.length != 0;
    }

    function _validateCancel(uint256 proposalId, address caller)
        internal
        view
        override(Governor, GovernorProposalGuardian)
        returns (bool)
    {
        return super._validateCancel(proposalId, caller);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
