// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title StakingRegistry
/// @notice See IStakingRegistry.
contract StakingRegistry is IStakingRegistry, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Held by the Verification contract: the only caller of `slash`.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_PEER_ID = 128;
    uint256 private constant _MAX_REGION = 64;
    uint256 private constant _MAX_UNBONDING_DELAY = 365 days;

    IERC20 private immutable _token;
    uint256 private immutable _capacityWeightBps;
    uint256 private immutable _capacityReference;

    uint256 private _minStake;
    uint256 private _unbondingDelay;

    mapping(address inferer => Node node) private _nodes;
    mapping(address inferer => Stake stake) private _stakes;
    mapping(address delegator => mapping(address inferer => uint256 shares)) private _shares;
    mapping(address account => Unbonding unbonding) private _unbondings;
    mapping(address inferer => Checkpoints.Trace208 power) private _power;
    Checkpoints.Trace208 private _totalPower;

    /// @param admin gets DEFAULT_ADMIN_ROLE (the Timelock after deployment)
    /// @param capacityWeightBps_ w in the voting power formula (0 = stake only)
    /// @param capacityReference_ capRef in that formula (> 0)
    constructor(
        IERC20 token_,
        address admin,
        uint256 minStake_,
        uint256 unbondingDelay_,
        uint256 capacityWeightBps_,
        uint256 capacityReference_
    ) {
        if (capacityReference_ == 0 || capacityWeightBps_ > _BPS) revert StakingInvalidParameter(capacityWeightBps_);
        if (unbondingDelay_ > _MAX_UNBONDING_DELAY) revert StakingInvalidParameter(unbondingDelay_);
        _token = token_;
        _capacityWeightBps = capacityWeightBps_;
        _capacityReference = capacityReference_;
        _minStake = minStake_;
        _unbondingDelay = unbondingDelay_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit MinStakeSet(0, minStake_);
        emit UnbondingDelaySet(0, unbondingDelay_);
    }

    // --- node records ----------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function register(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external
    {
        Node storage node = _nodes[msg.sender];
        if (node.registeredAt != 0) revert StakingAlreadyRegistered(msg.sender);
        _checkNode(peerId, attestationKey, region);
        node.attestationKey = attestationKey;
        node.capacity = capacity;
        node.registeredAt = uint64(block.timestamp);
        node.peerId = peerId;
        node.region = region;
        emit NodeRegistered(msg.sender, peerId, attestationKey, region, capacity);
    }

    /// @inheritdoc IStakingRegistry
    function updateNode(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external
    {
        Node storage node = _nodes[msg.sender];
        if (node.registeredAt == 0) revert StakingNotRegistered(msg.sender);
        _checkNode(peerId, attestationKey, region);
        node.attestationKey = attestationKey;
        node.capacity = capacity;
        node.peerId = peerId;
        node.region = region;
        emit NodeUpdated(msg.sender, peerId, attestationKey, region, capacity);
        _checkpoint(msg.sender); // capacity may change the voting power
    }

    function _checkNode(string calldata peerId, address attestationKey, string calldata region) private pure {
        uint256 peerLength = bytes(peerId).length;
        if (peerLength == 0 || peerLength > _MAX_PEER_ID) revert StakingInvalidPeerId(peerLength);
        if (attestationKey == address(0)) revert StakingInvalidAttestationKey(attestationKey);
        if (bytes(region).length > _MAX_REGION) revert StakingInvalidRegion(bytes(region).length);
    }

    // --- own stake ---------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function stake(uint256 amount) external nonReentrant {
        if (_nodes[msg.sender].registeredAt == 0) revert StakingNotRegistered(msg.sender);
        if (amount == 0) revert StakingZeroAmount();
        Stake storage s = _stakes[msg.sender];
        uint256 newSelf = s.selfStake + amount;
        if (newSelf < _minStake) revert StakingBelowMinimum(newSelf, _minStake);
        s.selfStake = _u128(newSelf);
        emit Staked(msg.sender, amount, newSelf);
        _checkpoint(msg.sender);
        // Interaction last; the token is our own ERC-20 (no hooks), the guard covers others.
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IStakingRegistry
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        Stake storage s = _stakes[msg.sender];
        uint256 current = s.selfStake;
        if (amount > current) revert StakingInsufficientStake(current, amount);
        uint256 remaining = current - amount;
        if (remaining != 0 && remaining < _minStake) revert StakingBelowMinimum(remaining, _minStake);
        s.selfStake = uint128(remaining);
        uint256 releaseAt = _addUnbonding(msg.sender, amount);
        emit UnstakeRequested(msg.sender, amount, releaseAt);
        _checkpoint(msg.sender);
    }

    /// @inheritdoc IStakingRegistry
    function withdraw() external nonReentrant {
        Unbonding memory u = _unbondings[msg.sender];
        if (u.amount == 0) revert StakingNothingToWithdraw(msg.sender);
        if (block.timestamp < u.releaseAt) revert StakingStillUnbonding(u.releaseAt, block.timestamp);
        delete _unbondings[msg.sender];
        emit Withdrawn(msg.sender, u.amount);
        _token.safeTransfer(msg.sender, u.amount);
    }

    /// @dev A new request joins the pending balance and restarts its clock.
    function _addUnbonding(address account, uint256 amount) private returns (uint256 releaseAt) {
        Unbonding storage u = _unbondings[account];
        releaseAt = block.timestamp + _unbondingDelay;
        u.amount = _u128(u.amount + amount);
        u.releaseAt = uint64(releaseAt);
    }

    // --- delegation --------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function delegateStake(address inferer, uint256 amount) external nonReentrant returns (uint256 shares) {
        if (amount == 0) revert StakingZeroAmount();
        if (!isActive(inferer)) revert StakingInfererInactive(inferer);
        Stake storage s = _stakes[inferer];
        // Shares are minted at the pool's current price; the first delegator sets 1:1.
        shares = s.delegatedShares == 0 ? amount : Math.mulDiv(amount, s.delegatedShares, s.delegatedStake);
        if (shares == 0) revert StakingZeroAmount();
        s.delegatedStake = _u128(s.delegatedStake + amount);
        s.delegatedShares = _u128(s.delegatedShares + shares);
        _shares[msg.sender][inferer] += shares;
        emit Delegated(msg.sender, inferer, amount, shares);
        _checkpoint(inferer);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IStakingRegistry
    function requestUndelegate(address inferer, uint256 shares) external returns (uint256 amount) {
        if (shares == 0) revert StakingZeroAmount();
        uint256 have = _shares[msg.sender][inferer];
        if (shares > have) revert StakingInsufficientShares(have, shares);
        Stake storage s = _stakes[inferer];
        amount = Math.mulDiv(shares, s.delegatedStake, s.delegatedShares); // rounds down: dust stays in the pool
        _shares[msg.sender][inferer] = have - shares;
        s.delegatedShares -= uint128(shares);
        s.delegatedStake -= uint128(amount);
        uint256 releaseAt = _addUnbonding(msg.sender, amount);
        emit UndelegateRequested(msg.sender, inferer, amount, shares, releaseAt);
        _checkpoint(inferer);
    }

    /// @inheritdoc IStakingRegistry
    function addDelegatorRewards(address inferer, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakingZeroAmount();
        Stake storage s = _stakes[inferer];
        // Without shares outstanding nobody could ever claim the reward.
        if (s.delegatedShares == 0) revert StakingInsufficientShares(0, 1);
        s.delegatedStake = _u128(s.delegatedStake + amount);
        emit DelegatorRewardsAdded(inferer, msg.sender, amount);
        _checkpoint(inferer);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    // --- slashing ------------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function slash(address inferer, uint256 bps, address to)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 amount)
    {
        if (bps == 0 || bps > _BPS) revert StakingInvalidSlash(bps);
        Stake storage s = _stakes[inferer];
        Unbonding storage u = _unbondings[inferer];
        uint256 fromSelf = s.selfStake * bps / _BPS;
        uint256 fromPool = s.delegatedStake * bps / _BPS;
        uint256 fromUnbonding = u.amount * bps / _BPS;
        s.selfStake -= uint128(fromSelf);
        s.delegatedStake -= uint128(fromPool);
        u.amount -= uint128(fromUnbonding);
        amount = fromSelf + fromPool + fromUnbonding;
        emit Slashed(inferer, bps, amount, to);
        _checkpoint(inferer);
        if (amount != 0) _token.safeTransfer(to, amount);
    }

    // --- governance ----------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function setMinStake(uint256 newMinStake) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit MinStakeSet(_minStake, newMinStake);
        _minStake = newMinStake;
    }

    /// @inheritdoc IStakingRegistry
    function setUnbondingDelay(uint256 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > _MAX_UNBONDING_DELAY) revert StakingInvalidParameter(newDelay);
        emit UnbondingDelaySet(_unbondingDelay, newDelay);
        _unbondingDelay = newDelay;
    }

    // --- voting power (IERC5805) -------------------------------------------------------

    /// @dev Record the inferer's power as of this block and the total with it.
    function _checkpoint(address inferer) private {
        Stake storage s = _stakes[inferer];
        uint256 newPower = powerFor(s.selfStake + s.delegatedStake, _nodes[inferer].capacity);
        uint256 oldPower = _power[inferer].latest();
        if (newPower == oldPower) return;
        uint48 now_ = clock();
        _power[inferer].push(now_, SafeCast.toUint208(newPower));
        _totalPower.push(now_, SafeCast.toUint208(_totalPower.latest() - oldPower + newPower));
        emit DelegateVotesChanged(inferer, oldPower, newPower);
    }

    /// @inheritdoc IStakingRegistry
    function powerFor(uint256 totalStake, uint32 capacity) public view returns (uint256) {
        if (_capacityWeightBps == 0) return totalStake;
        uint256 capped = Math.min(capacity, _capacityReference);
        return Math.mulDiv(totalStake, _BPS * _capacityReference + _capacityWeightBps * capped, _BPS * _capacityReference);
    }

    /// @notice ERC-6372 clock: the block number.
    function clock() public view returns (uint48) {
        return SafeCast.toUint48(block.number);
    }

    /// @notice ERC-6372 clock description: block numbers.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=blocknumber&from=default";
    }

    function getVotes(address account) external view returns (uint256) {
        return _power[account].latest();
    }

    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        return _power[account].upperLookupRecent(_pastTimepoint(timepoint));
    }

    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        return _totalPower.upperLookupRecent(_pastTimepoint(timepoint));
    }

    function _pastTimepoint(uint256 timepoint) private view returns (uint48) {
        uint48 now_ = clock();
        if (timepoint >= now_) revert StakingFutureLookup(timepoint, now_);
        return uint48(timepoint);
    }

    /// @notice An inferer votes with its own power; others have none to delegate.
    function delegates(address account) external view returns (address) {
        return _nodes[account].registeredAt != 0 ? account : address(0);
    }

    /// @notice Always reverts: voting power follows stake, it is never moved by hand.
    function delegate(address) external pure {
        revert StakingVotesNotTransferable();
    }

    /// @notice Always reverts: voting power follows stake, it is never moved by hand.
    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        revert StakingVotesNotTransferable();
    }

    // --- views ---------------------------------------------------------------------------

    function token() external view returns (address) {
        return address(_token);
    }

    function minStake() external view returns (uint256) {
        return _minStake;
    }

    function unbondingDelay() external view returns (uint256) {
        return _unbondingDelay;
    }

    function capacityWeightBps() external view returns (uint256) {
        return _capacityWeightBps;
    }

    function capacityReference() external view returns (uint256) {
        return _capacityReference;
    }

    /// @inheritdoc IStakingRegistry
    function isActive(address inferer) public view returns (bool) {
        uint256 own = _stakes[inferer].selfStake;
        return _nodes[inferer].registeredAt != 0 && own != 0 && own >= _minStake;
    }

    function nodeOf(address inferer) external view returns (Node memory) {
        return _nodes[inferer];
    }

    function attestationKeyOf(address inferer) external view returns (address) {
        return _nodes[inferer].attestationKey;
    }

    function stakeOf(address inferer) external view returns (Stake memory) {
        return _stakes[inferer];
    }

    function sharesOf(address delegator, address inferer) external view returns (uint256) {
        return _shares[delegator][inferer];
    }

    function unbondingOf(address account) external view returns (Unbonding memory) {
        return _unbondings[account];
    }

    function _u128(uint256 value) private pure returns (uint128) {
        if (value > type(uint128).max) revert StakingAmountTooLarge(value);
        return uint128(value);
    }
}
