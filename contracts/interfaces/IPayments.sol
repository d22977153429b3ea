// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Payment channels, cumulative vouchers and the revenue split
/// @notice A channel is a client's deposit toward one payee (a gateway operator). The
/// client signs EIP-712 vouchers whose `cumulativeAmount` grows with use; the payee
/// redeems the latest one (only the delta moves), one or many per transaction, before
/// the channel expires. After expiry the client reclaims what was not redeemed.
/// Each redeemed delta is split: inferers' pool / royalty to the creator of the
/// voucher's model (ModelRegistry) / treasury, 70/20/10 by default (governance can
/// change it). Royalties and the treasury share are pulled (`withdrawRoyalties`,
/// `withdrawTreasury`). The inferers' pool is handed out per epoch: a staked referee
/// (REFEREE_ROLE) posts a Merkle root of (account, amount) leaves, hashed as
/// OpenZeppelin's StandardMerkleTree does: keccak256(bytes.concat(keccak256(abi.encode(account, amount)))),
/// and each account claims once with a proof.
///
/// EIP-712 domain: name "Heliomesh Payments", version "1".
interface IPayments {
    /// @notice The signed struct (mirrored in node/chain/eip712.py `Voucher`).
    struct Voucher {
        address client;
        address payee;
        uint256 channel;
        bytes32 modelId; // keccak256(bytes(model id))
        uint256 cumulativeAmount;
        uint64 expiry;
    }

    struct Channel {
        address client;
        uint64 expiry; // redeem before it, reclaim from it on
        address payee;
        uint128 deposit;
        uint128 redeemed;
    }

    struct Split {
        uint16 inferersBps;
        uint16 creatorBps;
        uint16 treasuryBps;
    }

    struct Epoch {
        bytes32 root;
        uint128 total;
        uint128 claimed;
    }

    event ChannelOpened(
        uint256 indexed channel, address indexed client, address indexed payee, uint256 deposit, uint64 expiry
    );
    event ChannelToppedUp(uint256 indexed channel, uint256 amount, uint256 deposit, uint64 expiry);
    event VoucherRedeemed(
        uint256 indexed channel,
        bytes32 indexed modelId,
        uint256 cumulativeAmount,
        uint256 delta,
        uint256 toInferers,
        uint256 toCreator,
        uint256 toTreasury
    );
    event ChannelReclaimed(uint256 indexed channel, address indexed client, uint256 amount);
    event RoyaltiesWithdrawn(address indexed account, uint256 amount);
    event TreasuryWithdrawn(address indexed treasury, uint256 amount);
    event EpochRootPosted(uint256 indexed epoch, bytes32 root, uint256 total, address indexed referee);
    event RewardClaimed(uint256 indexed epoch, address indexed account, uint256 amount);
    event SplitSet(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps);
    event TreasurySet(address oldTreasury, address newTreasury);

    error PaymentsZeroAmount();
    error PaymentsInvalidAddress(address account);
    error PaymentsInvalidExpiry(uint64 expiry, uint256 now_);
    error PaymentsUnknownChannel(uint256 channel);
    error PaymentsNotClient(uint256 channel, address caller);
    error PaymentsNotPayee(uint256 channel, address caller);
    error PaymentsVoucherMismatch(uint256 channel);
    error PaymentsVoucherExpired(uint64 expiry, uint256 now_);
    error PaymentsChannelExpired(uint256 channel, uint64 expiry);
    error PaymentsBadSignature(address signer, address client);
    error PaymentsNothingToRedeem(uint256 cumulativeAmount, uint256 redeemed);
    error PaymentsExceedsDeposit(uint256 cumulativeAmount, uint256 deposit);
    error PaymentsUnknownModel(bytes32 modelId);
    error PaymentsChannelNotExpired(uint256 channel, uint64 expiry);
    error PaymentsNothingToReclaim(uint256 channel);
    error PaymentsNothingToWithdraw(address account);
    error PaymentsInvalidSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps);
    error PaymentsNotStakedReferee(address caller);
    error PaymentsEpochExceedsPool(uint256 total, uint256 available);
    error PaymentsUnknownEpoch(uint256 epoch);
    error PaymentsAlreadyClaimed(uint256 epoch, address account);
    error PaymentsInvalidProof(uint256 epoch, address account, uint256 amount);
    error PaymentsBatchLength(uint256 vouchers, uint256 signatures);
    error PaymentsBatchTooLarge(uint256 length, uint256 max);
    error PaymentsAmountTooLarge(uint256 amount);

    function openChannel(address payee, uint256 amount, uint64 expiry) external returns (uint256 channel);
    /// @notice Client only: add `amount` (may be 0) and move expiry to `newExpiry` (never earlier).
    function topUp(uint256 channel, uint256 amount, uint64 newExpiry) external;
    /// @notice Payee only: redeem a voucher; the delta over what was redeemed is split.
    function redeem(Voucher calldata voucher, bytes calldata signature) external;
    /// @notice `redeem` for many vouchers (any channels of the caller); any bad one reverts all.
    function redeemBatch(Voucher[] calldata vouchers, bytes[] calldata signatures) external;
    /// @notice Client only, from the channel's expiry: take back deposit - redeemed.
    function reclaim(uint256 channel) external;
    function withdrawRoyalties() external;
    /// @notice Anyone: send the accrued treasury share to the treasury.
    function withdrawTreasury() external;
    function postEpochRoot(bytes32 root, uint256 total) external returns (uint256 epoch);
    /// @notice Anyone may submit; the tokens always go to `account`.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external;
    function setSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps) external;
    function setTreasury(address newTreasury) external;

    function channelOf(uint256 channel) external view returns (Channel memory);
    function channelCount() external view returns (uint256);
    function split() external view returns (Split memory);
    function royaltiesOf(address account) external view returns (uint256);
    function treasuryAccrued() external view returns (uint256);
    function unallocatedPool() external view returns (uint256);
    function epochOf(uint256 epoch) external view returns (Epoch memory);
    function epochCount() external view returns (uint256);
    function isClaimed(uint256 epoch, address account) external view returns (bool);
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
    function token() external view returns (address);
    function treasury() external view returns (address);
}
