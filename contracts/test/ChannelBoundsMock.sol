// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title ChannelBoundsMock (test only)
/// @notice Settable challenge-period bounds standing in for ProtocolParams in PaymentChannels tests.
contract ChannelBoundsMock {
    /// @notice Shortest allowed challenge period, seconds.
    uint64 public minChallengePeriod;
    /// @notice Longest allowed challenge period, seconds.
    uint64 public maxChallengePeriod;

    /// @notice Sets both bounds.
    /// @param min Shortest period.
    /// @param max Longest period.
    constructor(uint64 min, uint64 max) {
        set(min, max);
    }

    /// @notice Sets both bounds (anyone: test only).
    /// @param min Shortest period.
    /// @param max Longest period.
    function set(uint64 min, uint64 max) public {
        minChallengePeriod = min;
        maxChallengePeriod = max;
    }
}
