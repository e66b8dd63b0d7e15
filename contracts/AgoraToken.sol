// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title AgoraToken (AGORA)
/// @notice The Agora protocol token: staked by compute providers, escrowed for training jobs, and used
///         as voting power in the AgoraGovernor. The full supply is minted once at deployment.
/// @dev ERC20 + ERC20Permit (EIP-2612) + ERC20Votes (timestamp clock, for governance).
contract AgoraToken is ERC20, ERC20Permit, ERC20Votes {
    /// @notice Thrown when the recipients and amounts arrays differ in length.
    error LengthMismatch(uint256 recipients, uint256 amounts);

    /// @notice Mints the initial supply to the given recipients.
    /// @param recipients Accounts receiving the initial supply.
    /// @param amounts Amount (18 decimals) minted to each recipient, index-aligned with `recipients`.
    constructor(address[] memory recipients, uint256[] memory amounts) ERC20("Agora", "AGORA") ERC20Permit("Agora") {
        if (recipients.length != amounts.length) revert LengthMismatch(recipients.length, amounts.length);
        for (uint256 i = 0; i < recipients.length; i++) {
            _mint(recipients[i], amounts[i]);
        }
    }

    /// @notice The voting clock is the block timestamp (EIP-6372), matching the governor's settings.
    /// @return The current block timestamp as a uint48.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice Machine-readable description of the clock (EIP-6372).
    /// @return The clock mode string.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
