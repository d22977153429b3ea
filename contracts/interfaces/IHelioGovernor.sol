// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Heliomesh governance additions to OpenZeppelin's Governor
/// @notice Votes are StakingRegistry checkpoints (only inferers hold voting power).
/// A proposal succeeds when quorum is reached (a fraction of total power at the
/// snapshot, abstain counts) and For votes are at least `supermajorityBps()` of
/// For + Against (e.g. 6667 = two thirds of votes cast). Successful proposals are queued
/// in the Timelock, which executes them: adopt/deprecate models, parameter changes
/// (minimum stake, slash fractions, revenue split) and treasury spends.
/// Protection of stakers: proposing needs `proposalThreshold()` > 0 voting power (the
/// ModelRegistry's adoption votes excepted); the Timelock's delay is longer than the
/// unbonding delay, so stakers can leave before a passed proposal executes; the
/// `proposalGuardian()` (OpenZeppelin GovernorProposalGuardian) can cancel any proposal
/// until it executes, except one that only replaces the guardian.
interface IHelioGovernor {
    event SupermajoritySet(uint256 oldBps, uint256 newBps);
    event ModelRegistrySet(address oldRegistry, address newRegistry);

    error GovernorInvalidSupermajority(uint256 bps);
    error GovernorZeroProposalThreshold();
    error GovernorGuardianCannotVetoReplacement();

    /// @notice For votes needed, in basis points of For + Against (5001..10000).
    function supermajorityBps() external view returns (uint256);
    /// @notice Governance only (through the Timelock).
    function setSupermajority(uint256 newBps) external;
    /// @notice The ModelRegistry whose adoption proposals skip the proposal threshold.
    function modelRegistry() external view returns (address);
    /// @notice Once by the deployer, then governance only.
    function setModelRegistry(address registry) external;
}
