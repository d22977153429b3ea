// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title A testnet faucet for the network token
/// @notice Holds HELIO sent to it at deployment and gives anyone a fixed drip, at most
/// once per cooldown per address and at most `windowCap` drips per window over all
/// addresses (so a swarm of fresh addresses drains it no faster than that). It is a
/// testnet's initial distribution: the deployer funds it, operators draw their stake.
interface IFaucet {
    /// @notice `to` received `amount`.
    event FaucetDripped(address indexed to, uint256 amount);

    /// @notice Deployment was given a zero token, drip, cooldown, window or cap.
    error FaucetInvalidParameters();
    /// @notice `to` drew recently; it can draw again at `readyAt` (unix seconds).
    error FaucetCooldown(address to, uint256 readyAt);
    /// @notice This window already gave `windowCap` drips; the next window opens at `opensAt`.
    error FaucetWindowFull(uint256 windowCap, uint256 opensAt);
    /// @notice The faucet holds less than one drip.
    error FaucetEmpty(uint256 left, uint256 drip);

    /// @notice Send one drip to `to` (anyone may call it for anyone).
    function drip(address to) external;

    /// @notice The token this faucet gives.
    function token() external view returns (address);

    /// @notice Tokens one drip sends (wei).
    function dripAmount() external view returns (uint256);

    /// @notice Seconds between two drips to the same address.
    function cooldown() external view returns (uint256);

    /// @notice Unix time from which `to` may draw again (0: now).
    function readyAt(address to) external view returns (uint256);

    /// @notice Drips allowed per window over all addresses, and the window in seconds.
    function rateLimit() external view returns (uint256 windowCap, uint256 window);
}
