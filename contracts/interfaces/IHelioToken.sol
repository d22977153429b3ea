// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title The Heliomesh network token
/// @notice ERC-20 with EIP-2612 permit. Inferers stake it, clients pay with it, holders
/// delegate it. Supply is fixed at deployment and minted to one initial holder, who
/// distributes it (on the local demo chain: the deploy script).
interface IHelioToken is IERC20, IERC20Permit {
    /// @notice The initial supply was minted to `holder` at deployment.
    event HelioTokenMinted(address indexed holder, uint256 amount);

    /// @notice Deployment was asked to mint to the zero address or a zero supply.
    error HelioTokenInvalidInitialMint(address holder, uint256 amount);
}
