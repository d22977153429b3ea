// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IHelioToken} from "./interfaces/IHelioToken.sol";

/// @title HelioToken
/// @notice See IHelioToken.
contract HelioToken is ERC20, ERC20Burnable, ERC20Permit, IHelioToken {
    /// @notice The only chain id a faucet may exist on (anvil's default).
    uint256 public constant LOCAL_CHAIN_ID = 31337;
    /// @notice Seconds between two drips to the same address.
    uint256 public constant FAUCET_COOLDOWN = 1 hours;

    uint256 private immutable _faucetDrip;
    mapping(address to => uint256 lastDrip) private _lastDrip;

    /// @param holder receives the whole initial supply
    /// @param initialSupply in wei (18 decimals)
    /// @param faucetReserve minted to this contract for the faucet; must be 0 off the local chain
    /// @param drip tokens per faucet call
    constructor(address holder, uint256 initialSupply, uint256 faucetReserve, uint256 drip)
        ERC20("Heliomesh", "HELIO")
        ERC20Permit("Heliomesh")
    {
        if (holder == address(0) || initialSupply == 0) {
            revert HelioTokenInvalidInitialMint(holder, initialSupply);
        }
        if (faucetReserve != 0 && block.chainid != LOCAL_CHAIN_ID) {
            revert HelioTokenFaucetNotLocal(block.chainid);
        }
        _mint(holder, initialSupply);
        emit HelioTokenMinted(holder, initialSupply);
        if (faucetReserve != 0) {
            _mint(address(this), faucetReserve);
            emit HelioTokenMinted(address(this), faucetReserve);
            _faucetDrip = drip;
        }
    }

    /// @inheritdoc IHelioToken
    function faucet(address to) external {
        uint256 drip = _faucetDrip;
        if (drip == 0) revert HelioTokenFaucetDisabled();
        uint256 last = _lastDrip[to];
        if (last != 0 && block.timestamp < last + FAUCET_COOLDOWN) {
            revert HelioTokenFaucetCooldown(to, last + FAUCET_COOLDOWN);
        }
        uint256 left = balanceOf(address(this));
        if (left < drip) revert HelioTokenFaucetEmpty(left, drip);
        _lastDrip[to] = block.timestamp;
        _transfer(address(this), to, drip);
        emit HelioTokenFaucetDripped(to, drip);
    }

    /// @inheritdoc IHelioToken
    function faucetDrip() external view returns (uint256) {
        return _faucetDrip;
    }

    /// @inheritdoc IHelioToken
    function burn(uint256 amount) public override(ERC20Burnable, IHelioToken) {
        super.burn(amount);
    }

    /// @dev ERC20Permit and IERC20Permit both declare nonces(); OpenZeppelin's wins.
    function nonces(address owner) public view override(ERC20Permit, IERC20Permit) returns (uint256) {
        return super.nonces(owner);
    }
}
