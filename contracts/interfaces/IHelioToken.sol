// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title The Heliomesh network token
/// @notice ERC-20 with EIP-2612 permit and burn. Inferers stake it, clients pay with it,
/// holders delegate it. Supply is fixed at deployment and minted to one initial holder,
/// who distributes it. On a local chain (chain id 31337) a faucet reserve may also be
/// minted to the token itself, from which anyone can draw a small drip per cooldown.
interface IHelioToken is IERC20, IERC20Permit {
    /// @notice The initial supply was minted to `holder` at deployment.
    event HelioTokenMinted(address indexed holder, uint256 amount);
    /// @notice `to` received `amount` from the local faucet.
    event HelioTokenFaucetDripped(address indexed to, uint256 amount);

    /// @notice Deployment was asked to mint to the zero address or a zero supply.
    error HelioTokenInvalidInitialMint(address holder, uint256 amount);
    /// @notice A faucet reserve was asked for on a chain that is not the local one.
    error HelioTokenFaucetNotLocal(uint256 chainId);
    /// @notice The faucet was not set up at deployment (or this is not a local chain).
    error HelioTokenFaucetDisabled();
    /// @notice `to` drew from the faucet recently; it can draw again at `readyAt`.
    error HelioTokenFaucetCooldown(address to, uint256 readyAt);
    /// @notice The faucet reserve holds less than one drip.
    error HelioTokenFaucetEmpty(uint256 left, uint256 drip);

    /// @notice Send one drip from the local faucet reserve to `to`.
    function faucet(address to) external;

    /// @notice Tokens a single faucet call sends (0: no faucet).
    function faucetDrip() external view returns (uint256);

    /// @notice Destroy `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
