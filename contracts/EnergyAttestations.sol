// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IEnergyAttestations} from "./interfaces/IEnergyAttestations.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title EnergyAttestations
/// @notice See IEnergyAttestations.
contract EnergyAttestations is IEnergyAttestations, EIP712 {
    bytes32 public constant ENERGY_REPORT_TYPEHASH = keccak256(
        "EnergyReport(address inferer,uint64 timestamp,uint32 availablePowerW,uint16 batterySocBps,"
        "uint32 headroomW,uint8 state,uint64 nonce)"
    );
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_BATCH = 256; // bounds one transaction's loop

    IStakingRegistry private immutable _staking;
    uint256 private immutable _maxAge;
    uint256 private immutable _maxFutureSkew;

    mapping(address inferer => LatestReport report) private _latest;

    /// @param maxAge_ seconds a report stays acceptable (and counts as fresh)
    /// @param maxFutureSkew_ seconds a report may be ahead of the block (clock drift)
    constructor(IStakingRegistry staking_, uint256 maxAge_, uint256 maxFutureSkew_)
        EIP712("Heliomesh EnergyAttestations", "1")
    {
        _staking = staking_;
        _maxAge = maxAge_;
        _maxFutureSkew = maxFutureSkew_;
    }

    /// @inheritdoc IEnergyAttestations
    function submit(EnergyReport calldata report, bytes calldata signature) external {
        _accept(report, signature);
    }

    /// @inheritdoc IEnergyAttestations
    function submitBatch(EnergyReport[] calldata reports, bytes[] calldata signatures) external {
        uint256 n = reports.length;
        if (n != signatures.length) revert EnergyBatchLength(n, signatures.length);
        if (n > _MAX_BATCH) revert EnergyBatchTooLarge(n, _MAX_BATCH);
        for (uint256 i = 0; i < n; ++i) {
            _accept(reports[i], signatures[i]);
        }
    }

    function _accept(EnergyReport calldata r, bytes calldata signature) private {
        if (r.batterySocBps > _BPS || r.state > uint8(InfererState.Offline)) {
            revert EnergyInvalidReport(r.batterySocBps, r.state);
        }
        if (r.timestamp + _maxAge < block.timestamp) revert EnergyReportStale(r.timestamp, block.timestamp - _maxAge);
        if (r.timestamp > block.timestamp + _maxFutureSkew) {
            revert EnergyReportFromFuture(r.timestamp, block.timestamp + _maxFutureSkew);
        }
        LatestReport storage last = _latest[r.inferer];
        uint64 lastNonce = last.nonce;
        if (r.nonce <= lastNonce) revert EnergyReportReplayed(r.nonce, lastNonce);
        address key = _staking.attestationKeyOf(r.inferer);
        if (key == address(0)) revert EnergyNotRegistered(r.inferer);
        (address signer,,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(_structHash(r)), signature);
        if (signer != key) revert EnergyBadSignature(r.inferer, signer, key);
        // One SSTORE: every field shares the slot.
        _latest[r.inferer] = LatestReport(r.timestamp, r.availablePowerW, r.batterySocBps, r.headroomW, r.state, r.nonce);
        emit EnergyReported(r.inferer, r.timestamp, r.availablePowerW, r.batterySocBps, r.headroomW, r.state, r.nonce);
    }

    function _structHash(EnergyReport calldata r) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ENERGY_REPORT_TYPEHASH,
                r.inferer,
                r.timestamp,
                r.availablePowerW,
                r.batterySocBps,
                r.headroomW,
                r.state,
                r.nonce
            )
        );
    }

    /// @inheritdoc IEnergyAttestations
    function hashReport(EnergyReport calldata report) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(report));
    }

    /// @inheritdoc IEnergyAttestations
    function latest(address inferer) external view returns (LatestReport memory) {
        return _latest[inferer];
    }

    /// @inheritdoc IEnergyAttestations
    function isRenewableActive(address inferer) external view returns (bool) {
        LatestReport memory r = _latest[inferer];
        bool fresh = r.timestamp != 0 && r.timestamp + _maxAge >= block.timestamp;
        bool serving = r.state == uint8(InfererState.Loading) || r.state == uint8(InfererState.Online);
        return fresh && serving && r.headroomW > 0;
    }

    function staking() external view returns (address) {
        return address(_staking);
    }

    function maxAge() external view returns (uint256) {
        return _maxAge;
    }

    function maxFutureSkew() external view returns (uint256) {
        return _maxFutureSkew;
    }

    function maxBatch() external pure returns (uint256) {
        return _MAX_BATCH;
    }
}
