// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title HelioTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: it executes what HelioGovernor
/// passed after `getMinDelay()` seconds, holds the treasury and the admin roles of the
/// other contracts. Named here so the build has a deployable artifact.
contract HelioTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
