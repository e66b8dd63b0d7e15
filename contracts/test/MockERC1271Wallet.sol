// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title MockERC1271Wallet (TEST ONLY)
/// @notice A minimal contract wallet: a signature is valid when its owner's key signed the hash.
contract MockERC1271Wallet is IERC1271 {
    /// @notice The key that signs for this wallet.
    address public immutable owner;

    /// @notice Creates the wallet.
    /// @param walletOwner The signing key.
    constructor(address walletOwner) {
        owner = walletOwner;
    }

    /// @notice ERC-1271: returns the magic value when `owner` signed `hash`.
    /// @param hash The signed digest.
    /// @param signature The owner's ECDSA signature.
    /// @return magicValue 0x1626ba7e when valid, 0xffffffff otherwise.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4 magicValue) {
        (address signer,,) = ECDSA.tryRecoverCalldata(hash, signature);
        return signer == owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}
