// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IEvidenceWindow, IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title StakingRegistry
/// @notice See IStakingRegistry.
contract StakingRegistry is IStakingRegistry, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Held by the Verification contract: the only caller of slash/freeze/jail.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_PEER_ID = 128;
    uint256 private constant _MAX_REGION = 64;
    uint256 private constant _MAX_UNBONDING_DELAY = 365 days;
    /// @dev ERC-4626-style virtual shares: a donation must be 10^3 times the victim's
    /// deposit to round it away, so first-depositor inflation never pays.
    uint256 private constant _VIRTUAL_SHARES = 1e3;
    uint256 private constant _VIRTUAL_STAKE = 1;

    /// @dev A share pool; `generation` moves on when a pool slashed to zero is reused.
    struct Pool {
        uint128 stake;
        uint128 shares;
        uint64 generation;
    }

    /// @dev Shares of one pool, valid only in the generation they were minted in.
    struct Holding {
        uint128 shares;
        uint64 generation;
        uint64 releaseAt; // unbonding entries only
    }

    IERC20 private immutable _token;
    uint256 private immutable _capacityWeightBps;
    uint256 private immutable _capacityReference;

    uint256 private _minStake;
    uint256 private _unbondingDelay;
    uint256 private _evidenceWindow;

    mapping(address inferer => Node node) private _nodes;
    mapping(address inferer => uint128 amount) private _selfStake;
    mapping(address inferer => Pool pool) private _delegated;
    mapping(address inferer => Pool pool) private _unbondingPool;
    mapping(address delegator => mapping(address inferer => Holding h)) private _shares;
    mapping(address account => mapping(address inferer => Holding h)) private _unbondings;
    mapping(address inferer => uint256 openClaims) private _frozen;
    mapping(address inferer => uint64 until) private _jailedUntil;
    mapping(address inferer => bool jailed) private _jailed;
    mapping(address inferer => Checkpoints.Trace208 power) private _power;
    Checkpoints.Trace208 private _totalPower;

    /// @param admin gets DEFAULT_ADMIN_ROLE (the Timelock after deployment)
    /// @param unbondingDelay_ seconds from an unstake request to its withdrawal (a deploy flag)
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

    modifier notFrozen(address inferer) {
        if (_frozen[inferer] != 0) revert StakingFrozen(inferer);
        _;
    }

    // --- node records ----------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function register(string calldata peerId, address attestationKey, string calldata region, uint32 capacity)
        external
    {
        Node storage node = _nodes[msg.sender];
        if (node.registeredAt != 0) {
            if (!_jailed[msg.sender]) revert StakingAlreadyRegistered(msg.sender);
            uint64 until = _jailedUntil[msg.sender];
            if (block.timestamp < until) revert StakingJailed(msg.sender, until);
            _jailed[msg.sender] = false;
            emit Unjailed(msg.sender);
        }
        _checkNode(peerId, attestationKey, region);
        node.attestationKey = attestationKey;
        node.capacity = capacity;
        node.registeredAt = uint64(block.timestamp);
        node.peerId = peerId;
        node.region = region;
        emit NodeRegistered(msg.sender, peerId, attestationKey, region, capacity);
        _checkpoint(msg.sender);
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
        uint256 newSelf = _selfStake[msg.sender] + amount;
        if (newSelf < _minStake) revert StakingBelowMinimum(newSelf, _minStake);
        _selfStake[msg.sender] = _u128(newSelf);
        emit Staked(msg.sender, amount, newSelf);
        _checkpoint(msg.sender);
        // Interaction last; the token is our own ERC-20 (no hooks), the guard covers others.
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IStakingRegistry
    function requestUnstake(uint256 amount) external notFrozen(msg.sender) {
        if (amount == 0) revert StakingZeroAmount();
        uint256 current = _selfStake[msg.sender];
        if (amount > current) revert StakingInsufficientStake(current, amount);
        uint256 remaining = current - amount;
        if (remaining != 0 && remaining < _minStake) revert StakingBelowMinimum(remaining, _minStake);
        _selfStake[msg.sender] = uint128(remaining);
        uint256 releaseAt = _addUnbonding(msg.sender, msg.sender, amount);
        emit UnstakeRequested(msg.sender, amount, releaseAt);
        _checkpoint(msg.sender);
    }

    /// @inheritdoc IStakingRegistry
    function withdraw() external nonReentrant {
        uint256 amount = _takeUnbonding(msg.sender, msg.sender);
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IStakingRegistry
    function withdrawFrom(address inferer) external nonReentrant {
        uint256 amount = _takeUnbonding(msg.sender, inferer);
        emit DelegatorWithdrawn(msg.sender, inferer, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @dev Move `amount` into `inferer`'s unbonding pool as `account`'s entry; a new
    /// request joins the pending entry and restarts its clock.
    function _addUnbonding(address account, address inferer, uint256 amount) private returns (uint256 releaseAt) {
        releaseAt = block.timestamp + _unbondingDelay;
        Pool storage pool = _unbondingPool[inferer];
        Holding storage h = _unbondings[account][inferer];
        uint256 shares = _deposit(pool, inferer, amount, true);
        // After the deposit: a reset there makes the entry's older shares worthless.
        h.shares = _u128(_current(h, pool) + shares);
        h.generation = pool.generation;
        h.releaseAt = uint64(releaseAt);
    }

    /// @dev Redeem `account`'s whole released entry for `inferer` (slashes included).
    function _takeUnbonding(address account, address inferer) private notFrozen(inferer) returns (uint256 amount) {
        Pool storage pool = _unbondingPool[inferer];
        Holding memory h = _unbondings[account][inferer];
        uint256 shares = _current(h, pool);
        if (shares == 0) revert StakingNothingToWithdraw(account);
        if (block.timestamp < h.releaseAt) revert StakingStillUnbonding(h.releaseAt, block.timestamp);
        delete _unbondings[account][inferer];
        amount = _redeem(pool, shares);
    }

    // --- delegation --------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function delegateStake(address inferer, uint256 amount)
        external
        nonReentrant
        notFrozen(inferer)
        returns (uint256 shares)
    {
        if (amount == 0) revert StakingZeroAmount();
        if (!isActive(inferer)) revert StakingInfererInactive(inferer);
        Pool storage pool = _delegated[inferer];
        Holding storage h = _shares[msg.sender][inferer];
        shares = _deposit(pool, inferer, amount, false);
        // After the deposit: a reset there makes the holder's older shares worthless.
        h.shares = _u128(_current(h, pool) + shares);
        h.generation = pool.generation;
        emit Delegated(msg.sender, inferer, amount, shares);
        _checkpoint(inferer);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IStakingRegistry
    function requestUndelegate(address inferer, uint256 shares)
        external
        notFrozen(inferer)
        returns (uint256 amount)
    {
        if (shares == 0) revert StakingZeroAmount();
        Pool storage pool = _delegated[inferer];
        Holding storage h = _shares[msg.sender][inferer];
        uint256 have = _current(h, pool);
        if (shares > have) revert StakingInsufficientShares(have, shares);
        h.shares = uint128(have - shares);
        amount = _redeem(pool, shares); // rounds down: dust stays in the pool
        uint256 releaseAt = amount == 0 ? block.timestamp : _addUnbonding(msg.sender, inferer, amount);
        emit UndelegateRequested(msg.sender, inferer, amount, shares, releaseAt);
        _checkpoint(inferer);
    }

    /// @inheritdoc IStakingRegistry
    function addDelegatorRewards(address inferer, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakingZeroAmount();
        Pool storage pool = _delegated[inferer];
        // Without shares outstanding nobody could ever claim the reward.
        if (pool.shares == 0) revert StakingInsufficientShares(0, 1);
        pool.stake = _u128(pool.stake + amount);
        emit DelegatorRewardsAdded(inferer, msg.sender, amount);
        _checkpoint(inferer);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    // --- share pools -------------------------------------------------------------------

    /// @dev Shares held in the pool's current generation (older ones were slashed to zero).
    function _current(Holding memory h, Pool storage pool) private view returns (uint256) {
        return h.generation == pool.generation ? h.shares : 0;
    }

    function _deposit(Pool storage pool, address inferer, uint256 amount, bool unbonding)
        private
        returns (uint256 shares)
    {
        if (pool.stake == 0 && pool.shares != 0) {
            // Slashed to zero: the old shares are worthless; start over at the virtual price.
            pool.shares = 0;
            pool.generation += 1;
            emit PoolReset(inferer, unbonding, pool.generation);
        }
        shares = Math.mulDiv(amount, pool.shares + _VIRTUAL_SHARES, pool.stake + _VIRTUAL_STAKE);
        if (shares == 0) revert StakingZeroAmount();
        pool.stake = _u128(pool.stake + amount);
        pool.shares = _u128(pool.shares + shares);
    }

    function _redeem(Pool storage pool, uint256 shares) private returns (uint256 amount) {
        amount = Math.mulDiv(shares, pool.stake + _VIRTUAL_STAKE, pool.shares + _VIRTUAL_SHARES);
        if (amount > pool.stake) amount = pool.stake;
        pool.shares -= uint128(shares);
        pool.stake -= uint128(amount);
    }

    function _toAmount(Pool storage pool, uint256 shares) private view returns (uint256) {
        return Math.min(Math.mulDiv(shares, pool.stake + _VIRTUAL_STAKE, pool.shares + _VIRTUAL_SHARES), pool.stake);
    }

    // --- slashing ------------------------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function slashAmount(address inferer, uint256 amount, address to)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 taken, uint256 fromSelf)
    {
        uint256 own = _selfStake[inferer];
        Pool storage pool = _delegated[inferer];
        Pool storage unbonding = _unbondingPool[inferer];
        uint256 total = own + pool.stake + unbonding.stake;
        if (amount > total) amount = total;
        if (amount == 0) return (0, 0);
        // Pro rata; rounding leftovers come from the own stake, never beyond it.
        uint256 fromPool = Math.mulDiv(amount, pool.stake, total);
        uint256 fromUnbonding = Math.mulDiv(amount, unbonding.stake, total);
        fromSelf = Math.min(amount - fromPool - fromUnbonding, own);
        _selfStake[inferer] = uint128(own - fromSelf);
        pool.stake -= uint128(fromPool);
        unbonding.stake -= uint128(fromUnbonding);
        taken = fromSelf + fromPool + fromUnbonding;
        emit Slashed(inferer, taken, fromSelf, to);
        _checkpoint(inferer);
        _token.safeTransfer(to, taken);
    }

    /// @inheritdoc IStakingRegistry
    function freeze(address inferer) external onlyRole(SLASHER_ROLE) returns (uint256 slashable) {
        uint256 open = _frozen[inferer] + 1;
        _frozen[inferer] = open;
        slashable = slashableOf(inferer);
        emit Frozen(inferer, open, slashable);
    }

    /// @inheritdoc IStakingRegistry
    function unfreeze(address inferer) external onlyRole(SLASHER_ROLE) {
        uint256 open = _frozen[inferer];
        if (open == 0) revert StakingNotFrozen(inferer);
        _frozen[inferer] = open - 1;
        emit Unfrozen(inferer, open - 1);
    }

    /// @inheritdoc IStakingRegistry
    function jail(address inferer, uint64 until) external onlyRole(SLASHER_ROLE) {
        if (until > _jailedUntil[inferer]) _jailedUntil[inferer] = until;
        _jailed[inferer] = true;
        emit Jailed(inferer, _jailedUntil[inferer]);
        _checkpoint(inferer);
    }

    /// @inheritdoc IStakingRegistry
    function setEvidenceWindow(uint256 window) external onlyRole(SLASHER_ROLE) {
        if (window > _unbondingDelay) revert StakingDelayBelowEvidenceWindow(_unbondingDelay, window);
        _evidenceWindow = window;
        emit EvidenceWindowSet(window);
    }

    /// @dev A slasher contract's evidence window must fit in the unbonding delay, or an
    /// offender could withdraw before its slash lands. No try/catch: a call starved of gas
    /// must revert the grant, not skip the check.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        if (role == SLASHER_ROLE && account.code.length != 0) {
            uint256 window = IEvidenceWindow(account).evidenceWindow();
            if (window > _unbondingDelay) revert StakingDelayBelowEvidenceWindow(_unbondingDelay, window);
            if (window > _evidenceWindow) {
                _evidenceWindow = window;
                emit EvidenceWindowSet(window);
            }
        }
        return super._grantRole(role, account);
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
        if (newDelay < _evidenceWindow) revert StakingDelayBelowEvidenceWindow(newDelay, _evidenceWindow);
        emit UnbondingDelaySet(_unbondingDelay, newDelay);
        _unbondingDelay = newDelay;
    }

    // --- voting power (IERC5805) -------------------------------------------------------

    /// @inheritdoc IStakingRegistry
    function refreshVotes(address inferer) external {
        _checkpoint(inferer);
    }

    /// @dev Record the inferer's power as of this block and the total with it; an
    /// inactive inferer (jailed, unbonded, below the minimum) has none.
    function _checkpoint(address inferer) private {
        uint256 newPower =
            isActive(inferer) ? powerFor(_selfStake[inferer] + _delegated[inferer].stake, _nodes[inferer].capacity) : 0;
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

    function evidenceWindow() external view returns (uint256) {
        return _evidenceWindow;
    }

    function capacityWeightBps() external view returns (uint256) {
        return _capacityWeightBps;
    }

    function capacityReference() external view returns (uint256) {
        return _capacityReference;
    }

    /// @inheritdoc IStakingRegistry
    function isActive(address inferer) public view returns (bool) {
        uint256 own = _selfStake[inferer];
        return _nodes[inferer].registeredAt != 0 && !_jailed[inferer] && own != 0 && own >= _minStake;
    }

    function isJailed(address inferer) external view returns (bool) {
        return _jailed[inferer];
    }

    function jailedUntil(address inferer) external view returns (uint64) {
        return _jailedUntil[inferer];
    }

    function isFrozen(address inferer) external view returns (bool) {
        return _frozen[inferer] != 0;
    }

    function nodeOf(address inferer) external view returns (Node memory) {
        return _nodes[inferer];
    }

    function attestationKeyOf(address inferer) external view returns (address) {
        return _nodes[inferer].attestationKey;
    }

    function stakeOf(address inferer) external view returns (Stake memory) {
        Pool storage pool = _delegated[inferer];
        return Stake(_selfStake[inferer], pool.stake, pool.shares);
    }

    function sharesOf(address delegator, address inferer) external view returns (uint256) {
        return _current(_shares[delegator][inferer], _delegated[inferer]);
    }

    function unbondingOf(address account) external view returns (Unbonding memory) {
        return _entry(account, account);
    }

    function delegatorUnbondingOf(address delegator, address inferer) external view returns (Unbonding memory) {
        return _entry(delegator, inferer);
    }

    function _entry(address account, address inferer) private view returns (Unbonding memory) {
        Pool storage pool = _unbondingPool[inferer];
        Holding memory h = _unbondings[account][inferer];
        uint256 shares = _current(h, pool);
        if (shares == 0) return Unbonding(0, 0);
        return Unbonding(uint128(_toAmount(pool, shares)), h.releaseAt);
    }

    function unbondingPoolOf(address inferer) external view returns (uint256 amount, uint256 shares) {
        Pool storage pool = _unbondingPool[inferer];
        return (pool.stake, pool.shares);
    }

    function slashableOf(address inferer) public view returns (uint256) {
        return _selfStake[inferer] + _delegated[inferer].stake + _unbondingPool[inferer].stake;
    }

    function _u128(uint256 value) private pure returns (uint128) {
        if (value > type(uint128).max) revert StakingAmountTooLarge(value);
        return uint128(value);
    }
}
