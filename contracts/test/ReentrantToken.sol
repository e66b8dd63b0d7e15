// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken (TEST ONLY)
/// @notice A malicious ERC-20 for reentrancy tests: once armed, its next transfer calls `target` with
///         `data` from inside the token transfer and records whether that reentrant call succeeded.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _data;
    bool private _armed;

    /// @notice Whether the last reentrant call succeeded.
    bool public lastReentrySucceeded;
    /// @notice Return (or revert) data of the last reentrant call.
    bytes public lastReentryData;
    /// @notice Number of reentrant calls attempted.
    uint256 public reentryAttempts;

    /// @notice Creates the token.
    constructor() ERC20("Reentrant", "EVIL") {}

    /// @notice Mints tokens to anyone (test token).
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the attack: the next transfer calls `target` with `data`.
    /// @param target Contract to re-enter.
    /// @param data Calldata for the reentrant call.
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
        _armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (_armed) {
            _armed = false;
            reentryAttempts += 1;
            (bool ok, bytes memory ret) = _target.call(_data);
            lastReentrySucceeded = ok;
            lastReentryData = ret;
        }
    }
}
