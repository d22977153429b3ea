// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IPayments} from "./interfaces/IPayments.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title Payments
/// @notice See IPayments.
contract Payments is IPayments, AccessControl, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address client,address payee,uint256 channel,bytes32 modelId,uint256 cumulativeAmount,uint64 expiry)"
    );
    bytes32 public constant EPOCH_ROOT_TYPEHASH =
        keccak256("EpochRoot(address payee,bytes32 root,uint256 total,uint256 nonce)");
    /// @notice Referees (granted by governance) whose EIP-712 signatures make an epoch root.
    bytes32 public constant REFEREE_ROLE = keccak256("REFEREE_ROLE");
    uint256 private constant _MAX_EPOCH_SIGNATURES = 32;
    uint64 private constant _MAX_CHALLENGE_DELAY = 30 days;
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_BATCH = 256;
    /// @notice After a channel's expiry the payee still has this long to redeem; the client
    /// reclaims only after it (uRaiden's settle period), so a client cannot spend up to the
    /// expiry and reclaim before the payee's last redemption lands.
    uint64 public constant SETTLE_PERIOD = 1 hours;

    IERC20 private immutable _token;
    IModelRegistry private immutable _models;
    // Unread since epoch roots need referee signatures, not stake; kept so the
    // constructor (and every deploy script) stays as it was.
    IStakingRegistry private immutable _staking;

    address private _treasury;
    Split private _split;
    // One slot for both: a redemption updates them with a single SSTORE.
    uint128 private _unallocatedPool;
    uint128 private _treasuryAccrued;

    uint256 private _channelCount;
    mapping(uint256 channel => Channel data) private _channels;
    // Reclaimed channels stay closed: a top-up cannot make their old vouchers redeemable again.
    mapping(uint256 channel => bool closed) private _closed;
    mapping(address account => uint256 amount) private _royalties;
    Epoch[] private _epochs;
    mapping(uint256 epoch => mapping(address account => bool claimed)) private _claimed;
    // Each payee's 70 % only pays the inferers that payee's referee counted.
    mapping(address payee => uint256 amount) private _pools;
    mapping(address payee => uint256 nonce) private _epochNonces;
    uint256 private _epochQuorum;
    uint64 private _epochChallengeDelay;

    constructor(IERC20 token_, IModelRegistry models_, IStakingRegistry staking_, address treasury_, address admin)
        EIP712("Heliomesh Payments", "1")
    {
        if (treasury_ == address(0)) revert PaymentsInvalidAddress(treasury_);
        _token = token_;
        _models = models_;
        _staking = staking_;
        _treasury = treasury_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setSplit(7_000, 2_000, 1_000);
        _setEpochRules(1, 1 days); // the deployer's wiring sets the profile's rules
        emit TreasurySet(address(0), treasury_);
    }

    // --- channels --------------------------------------------------------------------------

    /// @inheritdoc IPayments
    function openChannel(address payee, uint256 amount, uint64 expiry) external nonReentrant returns (uint256 channel) {
        if (payee == address(0) || payee == msg.sender) revert PaymentsInvalidAddress(payee);
        if (amount == 0) revert PaymentsZeroAmount();
        if (expiry <= block.timestamp) revert PaymentsInvalidExpiry(expiry, block.timestamp);
        channel = ++_channelCount;
        _channels[channel] = Channel(msg.sender, expiry, payee, _u128(amount), 0);
        emit ChannelOpened(channel, msg.sender, payee, amount, expiry);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPayments
    function topUp(uint256 channel, uint256 amount, uint64 newExpiry) external nonReentrant {
        Channel storage ch = _channel(channel);
        if (ch.client != msg.sender) revert PaymentsNotClient(channel, msg.sender);
        if (_closed[channel]) revert PaymentsChannelClosed(channel);
        if (newExpiry < ch.expiry || newExpiry <= block.timestamp) revert PaymentsInvalidExpiry(newExpiry, block.timestamp);
        uint256 deposit = ch.deposit + amount;
        ch.deposit = _u128(deposit);
        ch.expiry = newExpiry;
        emit ChannelToppedUp(channel, amount, deposit, newExpiry);
        if (amount != 0) _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPayments
    function redeem(Voucher calldata voucher, bytes calldata signature) external {
        (uint256 toPool, uint256 toTreasury) = _redeem(voucher, signature, voucher.cumulativeAmount);
        _accrue(toPool, toTreasury);
    }

    /// @inheritdoc IPayments
    function redeemBatch(Voucher[] calldata vouchers, bytes[] calldata signatures, uint256[] calldata amounts)
        external
    {
        uint256 n = vouchers.length;
        if (n != signatures.length) revert PaymentsBatchLength(n, signatures.length);
        if (n != amounts.length) revert PaymentsBatchLength(n, amounts.length);
        if (n > _MAX_BATCH) revert PaymentsBatchTooLarge(n, _MAX_BATCH);
        uint256 toPool = 0;
        uint256 toTreasury = 0;
        for (uint256 i = 0; i < n; ++i) {
            (uint256 p, uint256 t) = _redeem(vouchers[i], signatures[i], amounts[i]);
            toPool += p;
            toTreasury += t;
        }
        _accrue(toPool, toTreasury); // one write for the whole batch
    }

    /// @dev Checks one voucher and moves `amount - redeemed` (`amount` <= the voucher's
    /// cumulativeAmount: the payee takes what it charged, not the client's whole bound);
    /// no token leaves the contract here.
    function _redeem(Voucher calldata v, bytes calldata signature, uint256 amount)
        private
        returns (uint256 toPool, uint256 toTreasury)
    {
        Channel storage ch = _channel(v.channel);
        if (ch.payee != msg.sender) revert PaymentsNotPayee(v.channel, msg.sender);
        if (v.client != ch.client || v.payee != ch.payee) revert PaymentsVoucherMismatch(v.channel);
        if (block.timestamp > v.expiry) revert PaymentsVoucherExpired(v.expiry, block.timestamp);
        if (block.timestamp >= uint256(ch.expiry) + SETTLE_PERIOD) revert PaymentsChannelExpired(v.channel, ch.expiry);
        if (amount > v.cumulativeAmount) revert PaymentsAmountAboveVoucher(amount, v.cumulativeAmount);
        uint256 redeemed = ch.redeemed;
        if (amount <= redeemed) revert PaymentsNothingToRedeem(amount, redeemed);
        if (amount > ch.deposit) revert PaymentsExceedsDeposit(amount, ch.deposit);
        (address signer,,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(_structHash(v)), signature);
        if (signer != v.client) revert PaymentsBadSignature(signer, v.client);
        address creator = _models.royaltyRecipientOf(v.modelId);
        if (creator == address(0)) revert PaymentsUnknownModel(v.modelId);

        uint256 delta = amount - redeemed;
        Split memory s = _split;
        uint256 toCreator = delta * s.creatorBps / _BPS;
        toTreasury = delta * s.treasuryBps / _BPS;
        toPool = delta - toCreator - toTreasury; // rounding dust goes to the inferers
        ch.redeemed = uint128(amount); // <= deposit, which fits in 128 bits
        _royalties[creator] += toCreator;
        emit VoucherRedeemed(v.channel, v.modelId, amount, delta, toPool, toCreator, toTreasury);
    }

    /// @dev Every voucher redeemed in one call has payee == msg.sender: its pool grows.
    function _accrue(uint256 toPool, uint256 toTreasury) private {
        _unallocatedPool = _u128(_unallocatedPool + toPool);
        _pools[msg.sender] += toPool;
        _treasuryAccrued = _u128(_treasuryAccrued + toTreasury);
    }

    /// @inheritdoc IPayments
    function reclaim(uint256 channel) external nonReentrant {
        Channel storage ch = _channel(channel);
        if (ch.client != msg.sender) revert PaymentsNotClient(channel, msg.sender);
        if (block.timestamp < ch.expiry) revert PaymentsChannelNotExpired(channel, ch.expiry);
        uint256 settled = uint256(ch.expiry) + SETTLE_PERIOD;
        if (block.timestamp < settled) revert PaymentsChannelSettling(channel, settled);
        uint256 amount = ch.deposit - ch.redeemed;
        if (amount == 0) revert PaymentsNothingToReclaim(channel);
        ch.deposit = ch.redeemed; // nothing left to redeem or reclaim
        _closed[channel] = true; // and never again: see topUp
        emit ChannelReclaimed(channel, msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // --- pulls -----------------------------------------------------------------------------

    /// @inheritdoc IPayments
    function withdrawRoyalties() external nonReentrant {
        uint256 amount = _royalties[msg.sender];
        if (amount == 0) revert PaymentsNothingToWithdraw(msg.sender);
        _royalties[msg.sender] = 0;
        emit RoyaltiesWithdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPayments
    function withdrawTreasury() external nonReentrant {
        uint256 amount = _treasuryAccrued;
        if (amount == 0) revert PaymentsNothingToWithdraw(_treasury);
        _treasuryAccrued = 0;
        emit TreasuryWithdrawn(_treasury, amount);
        _token.safeTransfer(_treasury, amount);
    }

    // --- epochs of the inferers' pool ------------------------------------------------------

    /// @inheritdoc IPayments
    function postEpochRoot(address payee, bytes32 root, uint256 total, bytes[] calldata signatures)
        external
        returns (uint256 epoch)
    {
        if (total == 0) revert PaymentsZeroAmount();
        uint256 available = _pools[payee];
        if (total > available) revert PaymentsEpochExceedsPool(total, available);
        uint256 nonce = _epochNonces[payee];
        _checkRefereeSignatures(keccak256(abi.encode(EPOCH_ROOT_TYPEHASH, payee, root, total, nonce)), signatures);
        _pools[payee] = available - total;
        _unallocatedPool = uint128(_unallocatedPool - total); // the sum of the pools, >= this one
        _epochNonces[payee] = nonce + 1;
        uint64 opensAt = uint64(block.timestamp) + _epochChallengeDelay;
        epoch = _epochs.length;
        _epochs.push(Epoch(root, uint128(total), 0, payee, opensAt, false));
        emit EpochRootPosted(epoch, payee, root, total, opensAt, msg.sender);
    }

    /// @dev At least `_epochQuorum` distinct REFEREE_ROLE holders signed `structHash`
    /// (signers strictly ascending, so none counts twice).
    function _checkRefereeSignatures(bytes32 structHash, bytes[] calldata signatures) private view {
        uint256 n = signatures.length;
        if (n > _MAX_EPOCH_SIGNATURES) revert PaymentsBatchTooLarge(n, _MAX_EPOCH_SIGNATURES);
        if (n < _epochQuorum) revert PaymentsEpochQuorum(n, _epochQuorum);
        bytes32 digest = _hashTypedDataV4(structHash);
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            (address signer,,) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (!hasRole(REFEREE_ROLE, signer)) revert PaymentsNotReferee(signer);
            if (signer <= previous) revert PaymentsSignersNotAscending(signer);
            previous = signer;
        }
    }

    /// @inheritdoc IPayments
    function vetoEpoch(uint256 epoch) external {
        if (!hasRole(REFEREE_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert PaymentsNotReferee(msg.sender);
        }
        Epoch storage e = _epoch(epoch);
        if (e.vetoed) revert PaymentsEpochVetoed(epoch);
        if (block.timestamp >= e.opensAt) revert PaymentsEpochChallengeOver(epoch, e.opensAt);
        e.vetoed = true;
        uint256 amount = e.total; // nothing was claimed: claims open at opensAt
        _pools[e.payee] += amount;
        _unallocatedPool = _u128(_unallocatedPool + amount);
        emit EpochVetoed(epoch, msg.sender, amount);
    }

    /// @inheritdoc IPayments
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        Epoch storage e = _epoch(epoch);
        if (e.vetoed) revert PaymentsEpochVetoed(epoch);
        if (block.timestamp < e.opensAt) revert PaymentsEpochNotOpen(epoch, e.opensAt);
        if (_claimed[epoch][account]) revert PaymentsAlreadyClaimed(epoch, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert PaymentsInvalidProof(epoch, account, amount);
        uint256 claimed = e.claimed + amount;
        // A root whose leaves add up to more than its total cannot drain other epochs.
        if (claimed > e.total) revert PaymentsEpochExceedsPool(claimed, e.total);
        _claimed[epoch][account] = true;
        e.claimed = uint128(claimed);
        emit RewardClaimed(epoch, account, amount);
        _token.safeTransfer(account, amount);
    }

    // --- governance ------------------------------------------------------------------------

    /// @inheritdoc IPayments
    function setSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSplit(inferersBps, creatorBps, treasuryBps);
    }

    function _setSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps) private {
        if (uint256(inferersBps) + creatorBps + treasuryBps != _BPS) {
            revert PaymentsInvalidSplit(inferersBps, creatorBps, treasuryBps);
        }
        _split = Split(inferersBps, creatorBps, treasuryBps);
        emit SplitSet(inferersBps, creatorBps, treasuryBps);
    }

    /// @inheritdoc IPayments
    function setEpochRules(uint256 quorum, uint64 challengeDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setEpochRules(quorum, challengeDelay);
    }

    function _setEpochRules(uint256 quorum, uint64 challengeDelay) private {
        if (quorum == 0 || quorum > _MAX_EPOCH_SIGNATURES || challengeDelay > _MAX_CHALLENGE_DELAY) {
            revert PaymentsInvalidEpochRules(quorum, challengeDelay);
        }
        _epochQuorum = quorum;
        _epochChallengeDelay = challengeDelay;
        emit EpochRulesSet(quorum, challengeDelay);
    }

    /// @inheritdoc IPayments
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newTreasury == address(0)) revert PaymentsInvalidAddress(newTreasury);
        emit TreasurySet(_treasury, newTreasury);
        _treasury = newTreasury;
    }

    // --- internals and views ---------------------------------------------------------------

    function _epoch(uint256 epoch) private view returns (Epoch storage) {
        if (epoch >= _epochs.length) revert PaymentsUnknownEpoch(epoch);
        return _epochs[epoch];
    }

    function _channel(uint256 channel) private view returns (Channel storage ch) {
        ch = _channels[channel];
        if (ch.client == address(0)) revert PaymentsUnknownChannel(channel);
    }

    function _structHash(Voucher calldata v) private pure returns (bytes32) {
        return keccak256(
            abi.encode(VOUCHER_TYPEHASH, v.client, v.payee, v.channel, v.modelId, v.cumulativeAmount, v.expiry)
        );
    }

    function _u128(uint256 value) private pure returns (uint128) {
        if (value > type(uint128).max) revert PaymentsAmountTooLarge(value);
        return uint128(value);
    }

    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(voucher));
    }

    function channelOf(uint256 channel) external view returns (Channel memory) {
        return _channels[channel];
    }

    function isClosed(uint256 channel) external view returns (bool) {
        return _closed[channel];
    }

    function channelCount() external view returns (uint256) {
        return _channelCount;
    }

    function split() external view returns (Split memory) {
        return _split;
    }

    function royaltiesOf(address account) external view returns (uint256) {
        return _royalties[account];
    }

    function treasuryAccrued() external view returns (uint256) {
        return _treasuryAccrued;
    }

    function unallocatedPool() external view returns (uint256) {
        return _unallocatedPool;
    }

    function epochOf(uint256 epoch) external view returns (Epoch memory) {
        if (epoch >= _epochs.length) revert PaymentsUnknownEpoch(epoch);
        return _epochs[epoch];
    }

    function poolOf(address payee) external view returns (uint256) {
        return _pools[payee];
    }

    function epochNonceOf(address payee) external view returns (uint256) {
        return _epochNonces[payee];
    }

    function epochQuorum() external view returns (uint256) {
        return _epochQuorum;
    }

    function epochChallengeDelay() external view returns (uint64) {
        return _epochChallengeDelay;
    }

    function hashEpochRoot(address payee, bytes32 root, uint256 total, uint256 nonce) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EPOCH_ROOT_TYPEHASH, payee, root, total, nonce)));
    }

    function epochCount() external view returns (uint256) {
        return _epochs.length;
    }

    function isClaimed(uint256 epoch, address account) external view returns (bool) {
        return _claimed[epoch][account];
    }

    function token() external view returns (address) {
        return address(_token);
    }

    function treasury() external view returns (address) {
        return _treasury;
    }
}
