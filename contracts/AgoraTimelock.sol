// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title AgoraTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: it owns ProtocolParams (so it is the only account
///         that can change protocol parameters) and is the treasury. The AgoraGovernor is its proposer,
///         canceller and executor. Recorded in deployments as "TimelockController".
contract AgoraTimelock is TimelockController {
    /// @notice Creates the timelock.
    /// @param minDelay Seconds between queueing and executing an operation.
    /// @param proposers Accounts granted the proposer and canceller roles.
    /// @param executors Accounts granted the executor role (address(0) = anyone).
    /// @param admin Optional temporary admin (address(0) for none); the deployer renounces it after wiring.
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
