// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IFaucet} from "./interfaces/IFaucet.sol";

/// @title Faucet
/// @notice See IFaucet. No owner: what it holds can only leave as drips.
contract Faucet is IFaucet, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IERC20 private immutable _token;
    uint256 private immutable _drip;
    uint256 private immutable _cooldown;
    uint256 private immutable _windowCap;
    uint256 private immutable _window;

    mapping(address to => uint256 lastDrip) private _lastDrip;
    uint256 private _windowStart;
    uint256 private _windowDrips;

    /// @param token_ the HELIO token
    /// @param drip_ tokens per drip (wei)
    /// @param cooldown_ seconds between two drips to one address
    /// @param windowCap_ drips per `window_` seconds over all addresses
    constructor(IERC20 token_, uint256 drip_, uint256 cooldown_, uint256 windowCap_, uint256 window_) {
        if (address(token_) == address(0) || drip_ == 0 || cooldown_ == 0 || windowCap_ == 0 || window_ == 0) {
            revert FaucetInvalidParameters();
        }
        _token = token_;
        _drip = drip_;
        _cooldown = cooldown_;
        _windowCap = windowCap_;
        _window = window_;
    }

    /// @inheritdoc IFaucet
    function drip(address to) external nonReentrant {
        uint256 last = _lastDrip[to];
        if (last != 0 && block.timestamp < last + _cooldown) revert FaucetCooldown(to, last + _cooldown);
        if (block.timestamp >= _windowStart + _window) {
            _windowStart = block.timestamp;
            _windowDrips = 0;
        }
        if (_windowDrips >= _windowCap) revert FaucetWindowFull(_windowCap, _windowStart + _window);
        uint256 left = _token.balanceOf(address(this));
        if (left < _drip) revert FaucetEmpty(left, _drip);
        _lastDrip[to] = block.timestamp;
        _windowDrips += 1;
        emit FaucetDripped(to, _drip);
        _token.safeTransfer(to, _drip); // last: effects and the event come before the call
    }

    /// @inheritdoc IFaucet
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IFaucet
    function dripAmount() external view returns (uint256) {
        return _drip;
    }

    /// @inheritdoc IFaucet
    function cooldown() external view returns (uint256) {
        return _cooldown;
    }

    /// @inheritdoc IFaucet
    function readyAt(address to) external view returns (uint256) {
        uint256 last = _lastDrip[to];
        return last == 0 ? 0 : last + _cooldown;
    }

    /// @inheritdoc IFaucet
    function rateLimit() external view returns (uint256 windowCap, uint256 window) {
        return (_windowCap, _window);
    }
}
