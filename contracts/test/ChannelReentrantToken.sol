// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ChannelReentrantToken (test only)
/// @notice A malicious ERC-20 for PaymentChannels tests: when armed, every transfer made by `target`
///         (the channel contract moving tokens) calls back into `target` with `payload` and bubbles any revert.
contract ChannelReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public reentries;

    /// @notice Mints `supply` to the deployer.
    /// @param supply Initial supply.
    constructor(uint256 supply) ERC20("Channel Reentrant", "CRT") {
        _mint(msg.sender, supply);
    }

    /// @notice Arms the callback: transfers initiated by `target_` will call `target_` with `payload_`.
    /// @param target_ The contract to re-enter.
    /// @param payload_ The calldata of the re-entrant call.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    /// @notice Disarms the callback.
    function disarm() external {
        armed = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && msg.sender == target) {
            armed = false; // one attempt per arming, so the attack cannot recurse forever
            reentries++;
            (bool ok, bytes memory ret) = target.call(payload);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}
