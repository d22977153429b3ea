// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Payment channels, cumulative vouchers and the revenue split
/// @notice A channel is a client's deposit toward one payee (a gateway operator). The
/// client signs EIP-712 vouchers whose `cumulativeAmount` grows with use; the payee
/// redeems the latest one (only the delta moves), one or many per transaction, before
/// the channel expires or within `SETTLE_PERIOD` after it (the payee's grace window).
/// After that window the client reclaims what was not redeemed, and the channel is
/// closed for good (no top-up can make its old vouchers redeemable again).
/// The payee redeems an amount up to a voucher's `cumulativeAmount`: what it charged,
/// not the client's whole bound for the last request.
/// Each redeemed delta is split: inferers' pool / royalty to the creator of the
/// voucher's model (ModelRegistry) / treasury, 70/20/10 by default (governance can
/// change it). Royalties and the treasury share are pulled (`withdrawRoyalties`,
/// `withdrawTreasury`). The inferers' share is kept in one pool PER PAYEE (a gateway's
/// redemptions only fill its own pool) and handed out per epoch: a Merkle root of
/// (account, amount) leaves, hashed as OpenZeppelin's StandardMerkleTree does:
/// keccak256(bytes.concat(keccak256(abi.encode(account, amount)))), spends part of one
/// payee's pool once `epochQuorum()` referees (REFEREE_ROLE, granted by governance) signed
/// it (EIP-712 `EpochRoot`, nonce = `epochNonceOf(payee)`; anyone may submit). Claims open
/// `epochChallengeDelay()` after the post; until then any referee or governance can veto
/// the root (its total returns to the payee's pool). Each account claims once with a proof.
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
        uint64 expiry; // last moment of use; redeem until expiry + SETTLE_PERIOD, reclaim from then on
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
        address payee; // whose pool it spends
        uint64 opensAt; // claims from then on; vetoes before
        bool vetoed;
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
    event EpochRootPosted(
        uint256 indexed epoch, address indexed payee, bytes32 root, uint256 total, uint64 opensAt, address submitter
    );
    event EpochVetoed(uint256 indexed epoch, address indexed by, uint256 amount);
    event EpochRulesSet(uint256 quorum, uint64 challengeDelay);
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
    error PaymentsChannelSettling(uint256 channel, uint256 reclaimableAt);
    error PaymentsChannelClosed(uint256 channel);
    error PaymentsAmountAboveVoucher(uint256 amount, uint256 cumulativeAmount);
    error PaymentsNothingToReclaim(uint256 channel);
    error PaymentsNothingToWithdraw(address account);
    error PaymentsInvalidSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps);
    error PaymentsNotReferee(address account);
    error PaymentsEpochQuorum(uint256 signatures, uint256 quorum);
    error PaymentsSignersNotAscending(address signer);
    error PaymentsEpochNotOpen(uint256 epoch, uint64 opensAt);
    error PaymentsEpochVetoed(uint256 epoch);
    error PaymentsEpochChallengeOver(uint256 epoch, uint64 opensAt);
    error PaymentsInvalidEpochRules(uint256 quorum, uint64 challengeDelay);
    error PaymentsEpochExceedsPool(uint256 total, uint256 available);
    error PaymentsUnknownEpoch(uint256 epoch);
    error PaymentsAlreadyClaimed(uint256 epoch, address account);
    error PaymentsInvalidProof(uint256 epoch, address account, uint256 amount);
    error PaymentsBatchLength(uint256 vouchers, uint256 signatures);
    error PaymentsBatchTooLarge(uint256 length, uint256 max);
    error PaymentsAmountTooLarge(uint256 amount);

    function openChannel(address payee, uint256 amount, uint64 expiry) external returns (uint256 channel);
    /// @notice Client only: add `amount` (may be 0) and move expiry to `newExpiry` (never
    /// earlier); a reclaimed channel cannot be topped up (`PaymentsChannelClosed`).
    function topUp(uint256 channel, uint256 amount, uint64 newExpiry) external;
    /// @notice Payee only: redeem a voucher's whole `cumulativeAmount`; the delta over what
    /// was redeemed is split.
    function redeem(Voucher calldata voucher, bytes calldata signature) external;
    /// @notice `redeem` for many vouchers (any channels of the caller), each up to
    /// `amounts[i]` (<= its cumulativeAmount); any bad one reverts all, so the payee
    /// simulates each first (eth_call) and leaves the failing ones out.
    function redeemBatch(Voucher[] calldata vouchers, bytes[] calldata signatures, uint256[] calldata amounts)
        external;
    /// @notice Client only, from the channel's expiry + SETTLE_PERIOD: take back
    /// deposit - redeemed; the channel is closed from then on.
    function reclaim(uint256 channel) external;
    function withdrawRoyalties() external;
    /// @notice Anyone: send the accrued treasury share to the treasury.
    function withdrawTreasury() external;
    /// @notice Anyone: spend `total` of `payee`'s pool on the Merkle `root`, signed by at
    /// least `epochQuorum()` referees (EpochRoot struct, signers ascending by address).
    function postEpochRoot(address payee, bytes32 root, uint256 total, bytes[] calldata signatures)
        external
        returns (uint256 epoch);
    /// @notice A referee or governance, before the epoch opens: cancel the root, refund the pool.
    function vetoEpoch(uint256 epoch) external;
    /// @notice Anyone, once the epoch is open; the tokens always go to `account`.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external;
    function setSplit(uint16 inferersBps, uint16 creatorBps, uint16 treasuryBps) external;
    function setTreasury(address newTreasury) external;
    /// @notice Governance: referee signatures an epoch root needs (1..32) and the delay
    /// (<= 30 days) before its claims open.
    function setEpochRules(uint256 quorum, uint64 challengeDelay) external;

    function channelOf(uint256 channel) external view returns (Channel memory);
    function channelCount() external view returns (uint256);
    function isClosed(uint256 channel) external view returns (bool);
    function split() external view returns (Split memory);
    function royaltiesOf(address account) external view returns (uint256);
    function treasuryAccrued() external view returns (uint256);
    /// @notice The sum of every payee's unallocated pool.
    function unallocatedPool() external view returns (uint256);
    function poolOf(address payee) external view returns (uint256);
    function epochNonceOf(address payee) external view returns (uint256);
    function epochQuorum() external view returns (uint256);
    function epochChallengeDelay() external view returns (uint64);
    function hashEpochRoot(address payee, bytes32 root, uint256 total, uint256 nonce) external view returns (bytes32);
    function epochOf(uint256 epoch) external view returns (Epoch memory);
    function epochCount() external view returns (uint256);
    function isClaimed(uint256 epoch, address account) external view returns (bool);
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
    function token() external view returns (address);
    function treasury() external view returns (address);
}
