// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Signed energy reports of inferers
/// @notice Inferers (or anyone relaying for them) post EIP-712 signed reports; the signer
/// must be the attestation key the inferer registered in StakingRegistry. The latest
/// report per inferer is kept in one storage slot. A report older than `maxAge()` or
/// more than `maxFutureSkew()` ahead of the block is refused, and so is any nonce not
/// above the last one.
///
/// EIP-712 domain: name "Heliomesh EnergyAttestations", version "1".
interface IEnergyAttestations {
    /// @notice The same order as node/chain/eip712.py InfererState.
    enum InfererState {
        Joining,
        Loading,
        Online,
        Draining,
        Offline
    }

    /// @notice The signed struct (mirrored in node/chain/eip712.py `EnergyReport`).
    struct EnergyReport {
        address inferer;
        uint64 timestamp; // unix seconds when measured
        uint32 availablePowerW; // renewable power available now
        uint16 batterySocBps; // battery state of charge, 0..10000
        uint32 headroomW; // renewable power beyond the machine's own draw
        uint8 state; // InfererState
        uint64 nonce; // strictly increasing per inferer
    }

    /// @notice What is stored per inferer (one slot: 64+32+16+32+8+64 = 216 bits).
    struct LatestReport {
        uint64 timestamp;
        uint32 availablePowerW;
        uint16 batterySocBps;
        uint32 headroomW;
        uint8 state;
        uint64 nonce;
    }

    event EnergyReported(
        address indexed inferer,
        uint64 timestamp,
        uint32 availablePowerW,
        uint16 batterySocBps,
        uint32 headroomW,
        uint8 state,
        uint64 nonce
    );

    error EnergyNotRegistered(address inferer);
    error EnergyBadSignature(address inferer, address signer, address attestationKey);
    error EnergyReportStale(uint256 timestamp, uint256 oldestAccepted);
    error EnergyReportFromFuture(uint256 timestamp, uint256 latestAccepted);
    error EnergyReportReplayed(uint64 nonce, uint64 lastNonce);
    error EnergyInvalidReport(uint16 batterySocBps, uint8 state);
    error EnergyBatchLength(uint256 reports, uint256 signatures);
    error EnergyBatchTooLarge(uint256 length, uint256 max);

    /// @notice Check and store one signed report; emits `EnergyReported`.
    function submit(EnergyReport calldata report, bytes calldata signature) external;
    /// @notice `submit` for many reports at once; any bad report reverts the whole batch.
    function submitBatch(EnergyReport[] calldata reports, bytes[] calldata signatures) external;

    /// @notice The last accepted report of `inferer` (all zeros if none).
    function latest(address inferer) external view returns (LatestReport memory);
    /// @notice Fresh (not older than `maxAge`), state Loading or Online, and headroom > 0.
    function isRenewableActive(address inferer) external view returns (bool);
    /// @notice The EIP-712 digest a report is signed over (for tests and clients).
    function hashReport(EnergyReport calldata report) external view returns (bytes32);

    function staking() external view returns (address);
    function maxAge() external view returns (uint256);
    function maxFutureSkew() external view returns (uint256);
    function maxBatch() external view returns (uint256);
}
