// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";

/// @title Inferer registry, stake, delegation, slashing and voting power
/// @notice An inferer registers its node (its eth address is the caller; libp2p peer id,
/// energy-attestation key, region, declared capacity), stakes at least `minStake()`,
/// and later requests an unstake, waits `unbondingDelay()` and withdraws. Token holders
/// delegate stake to an inferer through a share pool: they share its rewards (anyone can
/// add rewards to the pool) and its slashing (pro rata). The pool prices shares with a
/// virtual offset (ERC-4626 style: 10^3 virtual shares, 1 virtual wei), so a first
/// depositor cannot inflate the share price against later ones; a pool slashed to zero
/// starts a new generation (its old shares are worth nothing) instead of bricking.
///
/// Unbonding stays slashable for the inferer it came from: every unbonding entry (the
/// inferer's own and each delegator's) holds shares of that inferer's unbonding pool,
/// which a slash reduces pro rata. `unbondingDelay()` is never below the slasher's
/// `evidenceWindow()` (checked when the role is granted and in `setUnbondingDelay`).
///
/// The SLASHER_ROLE (Verification) freezes an accused inferer while a claim is open (no
/// unstake, undelegate, withdrawal or new delegation from its pools), slashes an amount it
/// sized at the freeze, and jails: a jailed inferer is not active and has no voting power
/// until it registers again after `jailedUntil`.
///
/// Voting power (IERC5805, block-number clock) belongs to active inferers only:
///     power = (selfStake + delegatedStake) * (10000 + w * min(capacity, capRef) / capRef) / 10000
/// with the capacity weight `w` (basis points) and reference capacity `capRef` fixed at
/// deployment; w = 0 (the default) makes power equal to stake. Checkpoints record it per
/// block, so `getPastVotes` answers with the stake as it was. Votes cannot be moved:
/// `delegate`/`delegateBySig` revert.
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
        uint128 delegatedShares; // shares outstanding in that pool (current generation)
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
    event DelegatorWithdrawn(address indexed delegator, address indexed inferer, uint256 amount);
    event DelegatorRewardsAdded(address indexed inferer, address indexed from, uint256 amount);
    event Slashed(address indexed inferer, uint256 amount, uint256 fromSelf, address indexed to);
    event PoolReset(address indexed inferer, bool unbondingPool, uint64 generation);
    event Frozen(address indexed inferer, uint256 openClaims, uint256 slashable);
    event Unfrozen(address indexed inferer, uint256 openClaims);
    event Jailed(address indexed inferer, uint64 until);
    event Unjailed(address indexed inferer);
    event MinStakeSet(uint256 oldMinStake, uint256 newMinStake);
    event UnbondingDelaySet(uint256 oldDelay, uint256 newDelay);
    event EvidenceWindowSet(uint256 window);

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
    error StakingInvalidParameter(uint256 value);
    error StakingVotesNotTransferable();
    error StakingFutureLookup(uint256 timepoint, uint48 clock);
    error StakingAmountTooLarge(uint256 amount);
    error StakingFrozen(address inferer);
    error StakingNotFrozen(address inferer);
    error StakingJailed(address inferer, uint256 until);
    error StakingDelayBelowEvidenceWindow(uint256 delay, uint256 evidenceWindow);

    /// @notice Register the caller's node (stake comes after with `stake`). A jailed
    /// inferer registers again, once `jailedUntil` has passed, to leave the jail.
    function register(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external;
    /// @notice Change the caller's node record (same checks as `register`).
    function updateNode(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external;
    /// @notice Bond `amount` more of the caller's tokens (approve first); the result must reach `minStake`.
    function stake(uint256 amount) external;
    /// @notice Start unbonding `amount` of the caller's own stake; what stays must be 0 or >= minStake.
    function requestUnstake(uint256 amount) external;
    /// @notice Send the caller's unbonded own stake back once `releaseAt` has passed.
    function withdraw() external;
    /// @notice Send the caller's unbonded delegation from `inferer` back once released.
    function withdrawFrom(address inferer) external;
    /// @notice Put `amount` of the caller's tokens into `inferer`'s delegation pool.
    function delegateStake(address inferer, uint256 amount) external returns (uint256 shares);
    /// @notice Redeem `shares` of `inferer`'s pool into the caller's unbonding entry for it.
    function requestUndelegate(address inferer, uint256 shares) external returns (uint256 amount);
    /// @notice Add `amount` of the caller's tokens to `inferer`'s delegation pool (rewards for delegators).
    function addDelegatorRewards(address inferer, uint256 amount) external;

    /// @notice Slasher: take up to `amount` from `inferer`'s own stake, delegation pool and
    /// unbonding pool, pro rata; send it to `to`. Returns what was taken and its own-stake part.
    function slashAmount(address inferer, uint256 amount, address to)
        external
        returns (uint256 taken, uint256 fromSelf);
    /// @notice Slasher: an open claim against `inferer`; returns its slashable total now.
    function freeze(address inferer) external returns (uint256 slashable);
    /// @notice Slasher: a claim against `inferer` closed.
    function unfreeze(address inferer) external;
    /// @notice Slasher: `inferer` is inactive until `until` and a new registration.
    function jail(address inferer, uint64 until) external;
    /// @notice Slasher: report the seconds between an offence and the end of its slash.
    function setEvidenceWindow(uint256 window) external;

    /// @notice Anyone: re-checkpoint `inferer`'s voting power (after a raised `minStake`
    /// deactivated it, its power drops only when someone calls this or its stake changes).
    function refreshVotes(address inferer) external;

    /// @notice Governance: the minimum own stake of an active inferer.
    function setMinStake(uint256 newMinStake) external;
    /// @notice Governance: seconds between an unstake request and its withdrawal (>= evidenceWindow).
    function setUnbondingDelay(uint256 newDelay) external;

    function token() external view returns (address);
    function minStake() external view returns (uint256);
    function unbondingDelay() external view returns (uint256);
    function evidenceWindow() external view returns (uint256);
    function capacityWeightBps() external view returns (uint256);
    function capacityReference() external view returns (uint256);
    /// @notice Registered, not jailed, own stake >= minStake.
    function isActive(address inferer) external view returns (bool);
    function isJailed(address inferer) external view returns (bool);
    function jailedUntil(address inferer) external view returns (uint64);
    function isFrozen(address inferer) external view returns (bool);
    function nodeOf(address inferer) external view returns (Node memory);
    function attestationKeyOf(address inferer) external view returns (address);
    function stakeOf(address inferer) external view returns (Stake memory);
    function sharesOf(address delegator, address inferer) external view returns (uint256);
    /// @notice The caller's own-stake unbonding (from itself).
    function unbondingOf(address account) external view returns (Unbonding memory);
    /// @notice A delegator's unbonding from `inferer`.
    function delegatorUnbondingOf(address delegator, address inferer) external view returns (Unbonding memory);
    /// @notice Tokens unbonding from `inferer` (own and delegators'), and the shares over them.
    function unbondingPoolOf(address inferer) external view returns (uint256 amount, uint256 shares);
    /// @notice Own stake + delegation pool + unbonding pool: what a slash can take.
    function slashableOf(address inferer) external view returns (uint256);
    /// @notice Voting power an inferer with this stake and capacity has (the formula above).
    function powerFor(uint256 totalStake, uint32 capacity) external view returns (uint256);
}

/// @notice What a slasher reports: seconds from an offence to the end of its slash.
interface IEvidenceWindow {
    function evidenceWindow() external view returns (uint256);
}
