// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ChannelFeeToken (test only)
/// @notice A fee-on-transfer ERC-20 for PaymentChannels tests: 1% of every transfer between two
///         non-zero addresses is burned, so the receiver gets 99%.
contract ChannelFeeToken is ERC20 {
    /// @notice Mints `supply` to the deployer.
    /// @param supply Initial supply.
    constructor(uint256 supply) ERC20("Channel Fee", "CFT") {
        _mint(msg.sender, supply);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}
