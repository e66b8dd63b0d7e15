// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice The two getters PaymentChannels reads from ProtocolParams (governance-controlled bounds).
interface IChallengePeriodBounds {
    /// @notice Shortest allowed challenge period, seconds.
    /// @return Seconds.
    function minChallengePeriod() external view returns (uint64);
    /// @notice Longest allowed challenge period, seconds.
    /// @return Seconds.
    function maxChallengePeriod() external view returns (uint64);
}

/// @title PaymentChannels
/// @notice Unidirectional payment channels in any ERC-20 for pay-per-query between agents.
///         A sender escrows tokens for one recipient and pays off-chain with EIP-712 vouchers
///         `Voucher(bytes32 channelId,uint256 cumulativeAmount)`; each voucher states the TOTAL owed so far.
///         The recipient settles the highest voucher any number of times (each settle pays the increase).
///         The sender closes unilaterally with `startClose` + a challenge period + `withdraw`, or both parties
///         close at once with `cooperativeClose` (EIP-712 `CloseConsent(bytes32 channelId,uint256 cumulativeAmount)`).
/// @dev Replay protection: the EIP-712 domain binds chain id and this contract's address; the channel id
///      binds sender, recipient, token and a per-sender nonce. Challenge-period bounds: when constructed with a
///      `params` address (ProtocolParams), `open` reads governance's live min/maxChallengePeriod there;
///      otherwise the immutable constructor bounds apply. A channel keeps the period it was opened with.
///      Tokens whose balance
///      changes without transfers (rebasing) are not supported; fee-on-transfer tokens are credited with the
///      amount actually received. Reentrancy guard uses transient storage (EIP-1153, cancun).
contract PaymentChannels is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of a payment voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");
    /// @notice EIP-712 type hash of a consent to close a channel at a final cumulative amount.
    bytes32 public constant CLOSE_CONSENT_TYPEHASH = keccak256("CloseConsent(bytes32 channelId,uint256 cumulativeAmount)");

    /// @notice Where governance-controlled bounds are read (zero address: the fixed bounds apply).
    IChallengePeriodBounds public immutable params;
    uint256 private immutable _fixedMin;
    uint256 private immutable _fixedMax;
    uint256 private immutable _defaultPeriod;

    /// @notice A channel's on-chain state (4 storage slots).
    /// @param sender Who escrowed the tokens and signs vouchers.
    /// @param closesAt 0 while open; after `startClose`, the time from which `withdraw` is allowed.
    /// @param challengePeriod Seconds between `startClose` and the earliest `withdraw`.
    /// @param finalized True once the channel was withdrawn or cooperatively closed.
    /// @param recipient Who is paid by vouchers.
    /// @param token The ERC-20 escrowed.
    /// @param deposit Total escrowed (after top-ups).
    /// @param paid Total paid to the recipient so far.
    struct Channel {
        address sender;
        uint48 closesAt;
        uint32 challengePeriod;
        bool finalized;
        address recipient;
        address token;
        uint128 deposit;
        uint128 paid;
    }

    mapping(bytes32 channelId => Channel) private _channels;
    mapping(address sender => uint256) private _nonces;

    /// @notice A channel was opened.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed sender,
        address indexed recipient,
        address token,
        uint256 deposit,
        uint256 challengePeriod
    );
    /// @notice A channel's deposit was increased.
    event ChannelToppedUp(bytes32 indexed channelId, uint256 amount, uint256 deposit);
    /// @notice The recipient was paid `amount`, bringing the channel's total paid to `paid`.
    event ChannelSettled(bytes32 indexed channelId, uint256 amount, uint256 paid);
    /// @notice The sender started closing; the recipient can settle until `closesAt`.
    event ChannelCloseStarted(bytes32 indexed channelId, uint256 closesAt);
    /// @notice The channel is finalized: `paidToRecipient` (total) went to the recipient, `refunded` to the sender.
    event ChannelFinalized(bytes32 indexed channelId, uint256 paidToRecipient, uint256 refunded, bool cooperative);

    /// @notice No channel has this id.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The channel was already withdrawn or cooperatively closed.
    error ChannelAlreadyFinalized(bytes32 channelId);
    /// @notice The caller may not perform this action on the channel.
    error Unauthorized(address caller);
    /// @notice The recipient is the zero address or the sender itself.
    error InvalidRecipient(address recipient);
    /// @notice The token is not a contract.
    error InvalidToken(address token);
    /// @notice The amount deposited is zero (or nothing arrived).
    error ZeroDeposit();
    /// @notice The deposit would exceed 2^128 - 1.
    error DepositTooLarge(uint256 deposit);
    /// @notice The challenge period is outside [min, max].
    error ChallengePeriodOutOfBounds(uint256 challengePeriod, uint256 min, uint256 max);
    /// @notice The constructor bounds are inconsistent.
    error InvalidBounds(uint256 min, uint256 max, uint256 defaultPeriod);
    /// @notice The signature is malformed (length or `s` value).
    error MalformedSignature();
    /// @notice The signature was made by `recovered`, not by `expected`.
    error WrongSigner(address recovered, address expected);
    /// @notice The cumulative amount does not exceed what was already paid.
    error AmountNotIncreasing(uint256 cumulativeAmount, uint256 paid);
    /// @notice The cumulative amount is below what was already paid (cooperative close).
    error AmountBelowPaid(uint256 cumulativeAmount, uint256 paid);
    /// @notice The cumulative amount exceeds the channel's deposit.
    error AmountExceedsDeposit(uint256 cumulativeAmount, uint256 deposit);
    /// @notice `startClose` was already called for this channel.
    error CloseAlreadyStarted(bytes32 channelId, uint256 closesAt);
    /// @notice `withdraw` needs `startClose` first.
    error CloseNotStarted(bytes32 channelId);
    /// @notice `withdraw` before the challenge period ended.
    error ChallengePeriodNotOver(bytes32 channelId, uint256 closesAt);
    /// @notice The challenge period is over: vouchers can no longer be settled.
    error ChallengePeriodOver(bytes32 channelId, uint256 closesAt);

    /// @notice Sets where challenge-period bounds come from, and the default period.
    /// @param params_ ProtocolParams (or any IChallengePeriodBounds) to read live bounds from; zero for fixed bounds.
    /// @param minPeriod Fixed shortest period (seconds, > 0); used when `params_` is zero.
    /// @param maxPeriod Fixed longest period (seconds, >= minPeriod, < 2^32); used when `params_` is zero.
    /// @param defaultPeriod Period used when `open` is called without one (clamped into the bounds in force).
    constructor(address params_, uint256 minPeriod, uint256 maxPeriod, uint256 defaultPeriod)
        EIP712("AgoraPaymentChannels", "1")
    {
        if (
            defaultPeriod == 0 || defaultPeriod > type(uint32).max
                || (
                    params_ == address(0)
                        && (
                            minPeriod == 0 || maxPeriod < minPeriod || maxPeriod > type(uint32).max || defaultPeriod < minPeriod
                                || defaultPeriod > maxPeriod
                        )
                )
        ) revert InvalidBounds(minPeriod, maxPeriod, defaultPeriod);
        params = IChallengePeriodBounds(params_);
        _fixedMin = minPeriod;
        _fixedMax = maxPeriod;
        _defaultPeriod = defaultPeriod;
    }

    // ----------------------------------------------------------------------------------------------
    // Opening and funding
    // ----------------------------------------------------------------------------------------------

    /// @notice Opens a channel to `recipient` escrowing `amount` of `token`, with the default challenge period.
    /// @dev The caller must have approved this contract for `amount` of `token`.
    /// @param recipient Who will be paid by vouchers.
    /// @param token The ERC-20 to escrow.
    /// @param amount Tokens to escrow.
    /// @return channelId keccak256(abi.encode(sender, recipient, token, senderNonce)).
    function open(address recipient, address token, uint256 amount) external nonReentrant returns (bytes32 channelId) {
        return _open(recipient, token, amount, defaultChallengePeriod());
    }

    /// @notice Opens a channel to `recipient` escrowing `amount` of `token`, with the given challenge period.
    /// @dev The caller must have approved this contract for `amount` of `token`.
    /// @param recipient Who will be paid by vouchers.
    /// @param token The ERC-20 to escrow.
    /// @param amount Tokens to escrow.
    /// @param challengePeriod Seconds the recipient has to settle after `startClose` (within the bounds).
    /// @return channelId keccak256(abi.encode(sender, recipient, token, senderNonce)).
    function open(address recipient, address token, uint256 amount, uint256 challengePeriod)
        external
        nonReentrant
        returns (bytes32 channelId)
    {
        return _open(recipient, token, amount, challengePeriod);
    }

    /// @notice Adds `amount` of the channel's token to its deposit. Only the sender, only while open.
    /// @param channelId The channel.
    /// @param amount Tokens to add (the caller must have approved them).
    function topUp(bytes32 channelId, uint256 amount) external nonReentrant {
        Channel storage c = _live(channelId);
        if (msg.sender != c.sender) revert Unauthorized(msg.sender);
        if (c.closesAt != 0) revert CloseAlreadyStarted(channelId, c.closesAt);
        uint256 received = _pull(c.token, amount);
        uint256 deposit = uint256(c.deposit) + received;
        if (deposit > type(uint128).max) revert DepositTooLarge(deposit);
        c.deposit = uint128(deposit);
        emit ChannelToppedUp(channelId, received, deposit);
    }

    // ----------------------------------------------------------------------------------------------
    // Paying
    // ----------------------------------------------------------------------------------------------

    /// @notice Pays the recipient `cumulativeAmount - paid` against the sender's voucher. Only the recipient.
    ///         Can be called again with higher vouchers; the channel stays open. Allowed until the challenge
    ///         period ends.
    /// @param channelId The channel.
    /// @param cumulativeAmount Total owed to the recipient, as signed by the sender.
    /// @param signature The sender's 65-byte EIP-712 signature of Voucher(channelId, cumulativeAmount).
    function settle(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature) external nonReentrant {
        Channel storage c = _live(channelId);
        address recipient = c.recipient;
        if (msg.sender != recipient) revert Unauthorized(msg.sender);
        uint256 closesAt = c.closesAt;
        if (closesAt != 0 && block.timestamp >= closesAt) revert ChallengePeriodOver(channelId, closesAt);
        uint256 paid = c.paid;
        if (cumulativeAmount <= paid) revert AmountNotIncreasing(cumulativeAmount, paid);
        if (cumulativeAmount > c.deposit) revert AmountExceedsDeposit(cumulativeAmount, c.deposit);
        _checkSigner(VOUCHER_TYPEHASH, channelId, cumulativeAmount, signature, c.sender);
        c.paid = uint128(cumulativeAmount);
        uint256 amount = cumulativeAmount - paid;
        emit ChannelSettled(channelId, amount, cumulativeAmount);
        IERC20(c.token).safeTransfer(recipient, amount);
    }

    // ----------------------------------------------------------------------------------------------
    // Closing
    // ----------------------------------------------------------------------------------------------

    /// @notice Starts the unilateral close: the recipient can settle until `block.timestamp + challengePeriod`,
    ///         after which the sender can `withdraw` the rest. Only the sender.
    /// @param channelId The channel.
    function startClose(bytes32 channelId) external {
        Channel storage c = _live(channelId);
        if (msg.sender != c.sender) revert Unauthorized(msg.sender);
        if (c.closesAt != 0) revert CloseAlreadyStarted(channelId, c.closesAt);
        uint256 closesAt = block.timestamp + c.challengePeriod;
        c.closesAt = uint48(closesAt);
        emit ChannelCloseStarted(channelId, closesAt);
    }

    /// @notice Finalizes a channel after its challenge period and returns the unpaid deposit to the sender.
    ///         Only the sender.
    /// @param channelId The channel.
    function withdraw(bytes32 channelId) external nonReentrant {
        Channel storage c = _live(channelId);
        if (msg.sender != c.sender) revert Unauthorized(msg.sender);
        uint256 closesAt = c.closesAt;
        if (closesAt == 0) revert CloseNotStarted(channelId);
        if (block.timestamp < closesAt) revert ChallengePeriodNotOver(channelId, closesAt);
        c.finalized = true;
        uint256 paid = c.paid;
        uint256 refund = uint256(c.deposit) - paid;
        emit ChannelFinalized(channelId, paid, refund, false);
        if (refund > 0) IERC20(c.token).safeTransfer(c.sender, refund);
    }

    /// @notice Closes a channel at once when both parties agree on the final cumulative amount: the recipient
    ///         gets `cumulativeAmount - paid`, the sender the rest. Each party consents either by calling or by
    ///         an EIP-712 signature of CloseConsent(channelId, cumulativeAmount): the recipient calls with the
    ///         sender's consent (which also authorizes the final payment), the sender with the recipient's,
    ///         anyone else with both. Works while open or during the challenge period.
    /// @param channelId The channel.
    /// @param cumulativeAmount Final total owed to the recipient (>= paid, <= deposit).
    /// @param senderSig The sender's CloseConsent signature (ignored when the sender calls).
    /// @param recipientSig The recipient's CloseConsent signature (ignored when the recipient calls).
    function cooperativeClose(
        bytes32 channelId,
        uint256 cumulativeAmount,
        bytes calldata senderSig,
        bytes calldata recipientSig
    ) external nonReentrant {
        Channel storage c = _live(channelId);
        address sender = c.sender;
        address recipient = c.recipient;
        uint256 paid = c.paid;
        uint256 deposit = c.deposit;
        if (cumulativeAmount < paid) revert AmountBelowPaid(cumulativeAmount, paid);
        if (cumulativeAmount > deposit) revert AmountExceedsDeposit(cumulativeAmount, deposit);
        if (msg.sender != sender) _checkSigner(CLOSE_CONSENT_TYPEHASH, channelId, cumulativeAmount, senderSig, sender);
        if (msg.sender != recipient) {
            _checkSigner(CLOSE_CONSENT_TYPEHASH, channelId, cumulativeAmount, recipientSig, recipient);
        }
        c.paid = uint128(cumulativeAmount);
        c.finalized = true;
        uint256 payout = cumulativeAmount - paid;
        uint256 refund = deposit - cumulativeAmount;
        emit ChannelFinalized(channelId, cumulativeAmount, refund, true);
        IERC20 token = IERC20(c.token);
        if (payout > 0) token.safeTransfer(recipient, payout);
        if (refund > 0) token.safeTransfer(sender, refund);
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @notice The challenge-period bounds in force for new channels (live from `params` when set).
    /// @return min Shortest allowed period, seconds.
    /// @return max Longest allowed period, seconds (capped at 2^32 - 1).
    function challengePeriodBounds() public view returns (uint256 min, uint256 max) {
        if (address(params) == address(0)) return (_fixedMin, _fixedMax);
        min = params.minChallengePeriod();
        max = params.maxChallengePeriod();
        if (max > type(uint32).max) max = type(uint32).max;
    }

    /// @notice The period `open` uses when none is given: the constructor default clamped into the bounds.
    /// @return Seconds.
    function defaultChallengePeriod() public view returns (uint256) {
        (uint256 min, uint256 max) = challengePeriodBounds();
        if (_defaultPeriod < min) return min;
        if (_defaultPeriod > max) return max;
        return _defaultPeriod;
    }

    /// @notice A channel's state (all zero when it does not exist).
    /// @param channelId The channel.
    /// @return The channel struct.
    function getChannel(bytes32 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    /// @notice The nonce the sender's next `open` will use.
    /// @param sender The sender.
    /// @return The next nonce.
    function nonceOf(address sender) external view returns (uint256) {
        return _nonces[sender];
    }

    /// @notice The id `open` would assign for `sender`, `recipient`, `token` and `nonce`.
    /// @param sender The channel's sender.
    /// @param recipient The channel's recipient.
    /// @param token The channel's token.
    /// @param nonce The sender's nonce at opening.
    /// @return The channel id.
    function channelIdFor(address sender, address recipient, address token, uint256 nonce)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(sender, recipient, token, nonce));
    }

    /// @notice The EIP-712 digest of Voucher(channelId, cumulativeAmount) under this contract's domain.
    /// @param channelId The channel.
    /// @param cumulativeAmount The cumulative amount.
    /// @return The digest the sender signs.
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount)));
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    function _open(address recipient, address token, uint256 amount, uint256 challengePeriod)
        private
        returns (bytes32 channelId)
    {
        if (recipient == address(0) || recipient == msg.sender) revert InvalidRecipient(recipient);
        if (token.code.length == 0) revert InvalidToken(token);
        (uint256 min, uint256 max) = challengePeriodBounds();
        if (challengePeriod == 0 || challengePeriod < min || challengePeriod > max) {
            revert ChallengePeriodOutOfBounds(challengePeriod, min, max);
        }
        uint256 nonce = _nonces[msg.sender]++;
        channelId = channelIdFor(msg.sender, recipient, token, nonce);
        uint256 received = _pull(token, amount);
        if (received > type(uint128).max) revert DepositTooLarge(received);
        _channels[channelId] = Channel({
            sender: msg.sender,
            closesAt: 0,
            challengePeriod: uint32(challengePeriod),
            finalized: false,
            recipient: recipient,
            token: token,
            deposit: uint128(received),
            paid: 0
        });
        emit ChannelOpened(channelId, msg.sender, recipient, token, received, challengePeriod);
    }

    /// @dev Transfers `amount` from the caller and returns what actually arrived (fee-on-transfer safe).
    function _pull(address token, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert ZeroDeposit();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroDeposit();
    }

    /// @dev The channel, which must exist and not be finalized.
    function _live(bytes32 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        if (c.sender == address(0)) revert ChannelNotFound(channelId);
        if (c.finalized) revert ChannelAlreadyFinalized(channelId);
    }

    /// @dev Reverts unless `signature` is `expected`'s EIP-712 signature of (typeHash, channelId, amount).
    function _checkSigner(
        bytes32 typeHash,
        bytes32 channelId,
        uint256 cumulativeAmount,
        bytes calldata signature,
        address expected
    ) private view {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(typeHash, channelId, cumulativeAmount)));
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert MalformedSignature();
        if (recovered != expected) revert WrongSigner(recovered, expected);
    }
}
