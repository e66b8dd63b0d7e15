// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title AgentAccount
/// @notice A minimal account an owner funds and an AI agent spends from, under limits the owner sets and
///         the chain enforces: a cap per token per period, the counterparties tokens may be sent to, the
///         contracts tokens may be paid into, and an expiry. The agent acts with its own key; a transfer
///         over the cap, to a stranger, or after the expiry reverts, whatever the agent's software does.
///         The account's voting power is delegated by the owner (to the agent's key, typically), never
///         by handing over the owner's key. In the spirit of Safe's AllowanceModule and ERC-7715
///         permissions, without the module indirection.
contract AgentAccount is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice A per-token spending allowance: at most `cap` per `period` seconds.
    struct Allowance {
        uint128 cap;
        uint128 spent;
        uint64 period;
        uint64 windowStart;
    }

    /// @notice The owner: sets the limits, funds and withdraws.
    address public immutable owner;
    /// @notice The agent's key: spends within the limits.
    address public agent;
    /// @notice Unix time after which the agent can do nothing.
    uint64 public expiry;

    mapping(address token => Allowance) private _allowances;
    /// @notice Addresses the agent may send tokens to.
    mapping(address => bool) public isCounterparty;
    /// @notice Contracts the agent may pay tokens into (with an exact, one-call approval).
    mapping(address => bool) public isAllowedContract;

    error NotOwner(address caller);
    error NotAgent(address caller);
    error PermissionExpired(uint64 expiry);
    error NotAllowedCounterparty(address to);
    error NotAllowedContract(address target);
    error NoAllowance(address token);
    error OverCap(address token, uint256 spent, uint256 amount, uint256 cap);
    error CallFailed(bytes returnData);
    error ZeroAddress();

    event AgentSet(address indexed agent, uint64 expiry);
    event AllowanceSet(address indexed token, uint256 cap, uint256 period);
    event CounterpartySet(address indexed account, bool allowed);
    event AllowedContractSet(address indexed target, bool allowed);
    event Spent(address indexed token, address indexed to, uint256 amount, uint256 spentInWindow);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier onlyLiveAgent() {
        if (msg.sender != agent) revert NotAgent(msg.sender);
        if (block.timestamp >= expiry) revert PermissionExpired(expiry);
        _;
    }

    /// @param owner_ Who sets the limits.
    /// @param agent_ The agent's key.
    /// @param expiry_ Unix time after which the agent's permission ends.
    constructor(address owner_, address agent_, uint64 expiry_) {
        if (owner_ == address(0) || agent_ == address(0)) revert ZeroAddress();
        owner = owner_;
        agent = agent_;
        expiry = expiry_;
        emit AgentSet(agent_, expiry_);
    }

    // ------------------------------------------------------------------ owner

    /// @notice Replaces the agent key and its expiry (a new key, or 0 expiry to revoke at once).
    function setAgent(address agent_, uint64 expiry_) external onlyOwner {
        if (agent_ == address(0)) revert ZeroAddress();
        agent = agent_;
        expiry = expiry_;
        emit AgentSet(agent_, expiry_);
    }

    /// @notice Sets the cap of `token` per `period` seconds and starts a fresh window (cap 0 forbids it).
    function setAllowance(address token, uint128 cap, uint64 period) external onlyOwner {
        if (period == 0) revert NoAllowance(token);
        _allowances[token] = Allowance({cap: cap, spent: 0, period: period, windowStart: uint64(block.timestamp)});
        emit AllowanceSet(token, cap, period);
    }

    /// @notice Allows or forbids sending tokens to `account`.
    function setCounterparty(address account, bool allowed) external onlyOwner {
        isCounterparty[account] = allowed;
        emit CounterpartySet(account, allowed);
    }

    /// @notice Allows or forbids paying tokens into `target` (e.g. ComputeMarket, PaymentChannels).
    function setAllowedContract(address target, bool allowed) external onlyOwner {
        isAllowedContract[target] = allowed;
        emit AllowedContractSet(target, allowed);
    }

    /// @notice Takes tokens back out of the account.
    function withdraw(address token, address to, uint256 amount) external onlyOwner nonReentrant {
        IERC20(token).safeTransfer(to, amount);
        emit Withdrawn(token, to, amount);
    }

    /// @notice Delegates the account's voting power in `token` (ERC20Votes), typically to the agent key.
    function delegateVotes(address token, address delegatee) external onlyOwner {
        IVotes(token).delegate(delegatee);
    }

    // ------------------------------------------------------------------ agent

    /// @notice Sends `amount` of `token` to an allowed counterparty, within the cap.
    function transfer(address token, address to, uint256 amount) external onlyLiveAgent nonReentrant {
        if (!isCounterparty[to]) revert NotAllowedCounterparty(to);
        uint256 spent = _spend(token, amount);
        IERC20(token).safeTransfer(to, amount);
        emit Spent(token, to, amount, spent);
    }

    /// @notice Approves an allowed contract for exactly `amount` of `token`, calls it with `data`, and
    ///         clears the approval: the contract can take at most `amount`, counted against the cap.
    function callWithAllowance(address token, address target, uint256 amount, bytes calldata data)
        external
        onlyLiveAgent
        nonReentrant
        returns (bytes memory result)
    {
        if (!isAllowedContract[target] || target == token) revert NotAllowedContract(target);
        uint256 spent = _spend(token, amount);
        IERC20(token).forceApprove(target, amount);
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) revert CallFailed(result);
        IERC20(token).forceApprove(target, 0);
        emit Spent(token, target, amount, spent);
    }

    // ------------------------------------------------------------------ views

    /// @notice The allowance of `token`: cap, period, the current window's start and spending, and what
    ///         is still available in it.
    function allowance(address token)
        external
        view
        returns (uint256 cap, uint256 period, uint256 windowStart, uint256 spent, uint256 available)
    {
        Allowance memory a = _allowances[token];
        if (a.period == 0) return (0, 0, 0, 0, 0);
        (uint64 start, uint128 s) = _window(a);
        return (a.cap, a.period, start, s, s >= a.cap ? 0 : a.cap - s);
    }

    function _window(Allowance memory a) private view returns (uint64 start, uint128 spent) {
        if (block.timestamp >= uint256(a.windowStart) + a.period) {
            uint256 elapsed = (block.timestamp - a.windowStart) / a.period;
            return (uint64(a.windowStart + elapsed * a.period), 0);
        }
        return (a.windowStart, a.spent);
    }

    function _spend(address token, uint256 amount) private returns (uint256) {
        Allowance storage a = _allowances[token];
        if (a.period == 0) revert NoAllowance(token);
        (uint64 start, uint128 spent) = _window(a);
        if (uint256(spent) + amount > a.cap) revert OverCap(token, spent, amount, a.cap);
        a.windowStart = start;
        a.spent = spent + uint128(amount);
        return a.spent;
    }
}
