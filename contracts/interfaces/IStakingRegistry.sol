// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";

/// @title Inferer registry, stake, delegation and voting power
/// @notice An inferer registers its node (its eth address is the caller; libp2p peer id,
/// energy-attestation key, region, declared capacity), stakes at least `minStake()`,
/// and later requests an unstake, waits `unbondingDelay()` and withdraws. Token holders
/// delegate stake to an inferer through a share pool: they share its rewards (anyone can
/// add rewards to the pool) and its slashing (pro rata).
///
/// Voting power (IERC5805, block-number clock) belongs to inferers only:
///     power = (selfStake + delegatedStake) * (10000 + w * min(capacity, capRef) / capRef) / 10000
/// with the capacity weight `w` (basis points) and reference capacity `capRef` fixed at
/// deployment; w = 0 (the default) makes power equal to stake. Checkpoints record it per
/// block, so `getPastVotes` answers with the stake as it was. Votes cannot be moved:
/// `delegate`/`delegateBySig` revert. Only the SLASHER_ROLE (Verification) can slash.
interface IStakingRegistry is IERC5805 {
    struct Node {
        address attestationKey; // signs EIP-712 energy reports
        uint32 capacity; // declared capacity, tokens/s (whole-model equivalent)
        uint64 registeredAt; // block timestamp; 0 = not registered
        string peerId; // libp2p peer id, e.g. "12D3KooW..."
        string region; // IANA time zone, e.g. "Europe/Berlin"
    }

    struct Stake {
        uint128 selfStake; // the inferer's own bonded stake
        uint128 delegatedStake; // tokens in its delegation pool
        uint128 delegatedShares; // shares outstanding in that pool
    }

    struct Unbonding {
        uint128 amount; // waiting to be withdrawn (still slashable)
        uint64 releaseAt; // block timestamp from which it can be withdrawn
    }

    event NodeRegistered(
        address indexed inferer, string peerId, address attestationKey, string region, uint32 capacity
    );
    event NodeUpdated(address indexed inferer, string peerId, address attestationKey, string region, uint32 capacity);
    event Staked(address indexed inferer, uint256 amount, uint256 selfStake);
    event UnstakeRequested(address indexed account, uint256 amount, uint256 releaseAt);
    event Withdrawn(address indexed account, uint256 amount);
    event Delegated(address indexed delegator, address indexed inferer, uint256 amount, uint256 shares);
    event UndelegateRequested(
        address indexed delegator, address indexed inferer, uint256 amount, uint256 shares, uint256 releaseAt
    );
    event DelegatorRewardsAdded(address indexed inferer, address indexed from, uint256 amount);
    event Slashed(address indexed inferer, uint256 bps, uint256 amount, address indexed to);
    event MinStakeSet(uint256 oldMinStake, uint256 newMinStake);
    event UnbondingDelaySet(uint256 oldDelay, uint256 newDelay);

    error StakingNotRegistered(address account);
    error StakingAlreadyRegistered(address account);
    error StakingInvalidPeerId(uint256 length);
    error StakingInvalidAttestationKey(address key);
    error StakingInvalidRegion(uint256 length);
    error StakingZeroAmount();
    error StakingBelowMinimum(uint256 selfStake, uint256 minStake);
    error StakingInsufficientStake(uint256 have, uint256 need);
    error StakingInsufficientShares(uint256 have, uint256 need);
    error StakingInfererInactive(address inferer);
    error StakingNothingToWithdraw(address account);
    error StakingStillUnbonding(uint256 releaseAt, uint256 now_);
    error StakingInvalidSlash(uint256 bps);
    error StakingInvalidParameter(uint256 value);
    error StakingVotesNotTransferable();
    error StakingFutureLookup(uint256 timepoint, uint48 clock);
    error StakingAmountTooLarge(uint256 amount);

    /// @notice Register the caller's node. Stake comes after with `stake`.
    function register(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external;
    /// @notice Change the caller's node record (same checks as `register`).
    function updateNode(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external;
    /// @notice Bond `amount` more of the caller's tokens (approve first); the result must reach `minStake`.
    function stake(uint256 amount) external;
    /// @notice Start unbonding `amount` of the caller's own stake; what stays must be 0 or >= minStake.
    function requestUnstake(uint256 amount) external;
    /// @notice Send the caller's unbonded tokens back once `releaseAt` has passed.
    function withdraw() external;
    /// @notice Put `amount` of the caller's tokens into `inferer`'s delegation pool.
    function delegateStake(address inferer, uint256 amount) external returns (uint256 shares);
    /// @notice Redeem `shares` of `inferer`'s pool into the caller's unbonding balance.
    function requestUndelegate(address inferer, uint256 shares) external returns (uint256 amount);
    /// @notice Add `amount` of the caller's tokens to `inferer`'s delegation pool (rewards for delegators).
    function addDelegatorRewards(address inferer, uint256 amount) external;
    /// @notice Take `bps` of `inferer`'s own stake, unbonding balance and delegation pool; send it to `to`.
    function slash(address inferer, uint256 bps, address to) external returns (uint256 amount);

    /// @notice Governance: the minimum own stake of an active inferer.
    function setMinStake(uint256 newMinStake) external;
    /// @notice Governance: seconds between an unstake request and its withdrawal.
    function setUnbondingDelay(uint256 newDelay) external;

    function token() external view returns (address);
    function minStake() external view returns (uint256);
    function unbondingDelay() external view returns (uint256);
    function capacityWeightBps() external view returns (uint256);
    function capacityReference() external view returns (uint256);
    function isActive(address inferer) external view returns (bool);
    function nodeOf(address inferer) external view returns (Node memory);
    function attestationKeyOf(address inferer) external view returns (address);
    function stakeOf(address inferer) external view returns (Stake memory);
    function sharesOf(address delegator, address inferer) external view returns (uint256);
    function unbondingOf(address account) external view returns (Unbonding memory);
    /// @notice Voting power an inferer with this stake and capacity has (the formula above).
    function powerFor(uint256 totalStake, uint32 capacity) external view returns (uint256);
}
