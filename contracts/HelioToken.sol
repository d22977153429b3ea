// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IHelioToken} from "./interfaces/IHelioToken.sol";

/// @title HelioToken
/// @notice See IHelioToken.
contract HelioToken is ERC20, ERC20Permit, IHelioToken {
    /// @param holder receives the whole initial supply
    /// @param initialSupply in wei (18 decimals)
    constructor(address holder, uint256 initialSupply) ERC20("Heliomesh", "HELIO") ERC20Permit("Heliomesh") {
        if (holder == address(0) || initialSupply == 0) {
            revert HelioTokenInvalidInitialMint(holder, initialSupply);
        }
        _mint(holder, initialSupply);
        emit HelioTokenMinted(holder, initialSupply);
    }

    /// @dev ERC20Permit and IERC20Permit both declare nonces(); OpenZeppelin's wins.
    function nonces(address owner) public view override(ERC20Permit, IERC20Permit) returns (uint256) {
        return super.nonces(owner);
    }
}
