// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ProtocolParams
/// @notice The one place that holds every governance-controlled protocol parameter: minimum provider
///         stake, slash fraction, protocol fee, challenge-period bounds, treasury, approved validators,
///         and the sectors datasets may be admitted to. Its owner is the TimelockController, so only a
///         passed governance proposal can change any of them. The other protocol contracts read these
///         values here and treat `owner()` as "governance".
/// @dev Initial values (including devnet validators and sectors) are set in the constructor, before the
///      owner (the timelock) takes over, so there is no window in which the deployer holds control.
contract ProtocolParams is Ownable {
    /// @notice Basis-point denominator (10000 = 100%).
    uint256 public constant BPS = 10_000;
    /// @notice Upper bound for the protocol fee (20%).
    uint256 public constant MAX_FEE_BPS = 2_000;

    /// @notice Initial numeric parameters passed to the constructor.
    struct Init {
        uint256 minStake;
        uint16 slashBps;
        uint16 protocolFeeBps;
        uint64 minChallengePeriod;
        uint64 maxChallengePeriod;
        address treasury;
    }

    /// @notice Minimum AGORA a provider must stake to offer compute; also the stake locked per job joined.
    uint256 public minStake;
    /// @notice Fraction (bps) of a job's locked stake taken from a provider on a proven fault.
    uint16 public slashBps;
    /// @notice Protocol fee (bps) charged on top of a job's escrow; sent to the treasury when the job starts.
    uint16 public protocolFeeBps;
    /// @notice Shortest challenge period (seconds) a job may choose.
    uint64 public minChallengePeriod;
    /// @notice Longest challenge period (seconds) a job may choose.
    uint64 public maxChallengePeriod;
    /// @notice Receives protocol fees and unallocated rewards (the timelock by default).
    address public treasury;

    /// @notice Whether an account is an approved validator.
    mapping(address account => bool) public isValidator;
    mapping(bytes32 sectorHash => bool) private _sectorAllowed;

    /// @notice A numeric parameter changed (`name` is the getter's name).
    event ParamChanged(string name, uint256 oldValue, uint256 newValue);
    /// @notice The treasury address changed.
    event TreasuryChanged(address oldTreasury, address newTreasury);
    /// @notice A validator was approved (`approved` true) or removed.
    event ValidatorSet(address indexed validator, bool approved);
    /// @notice A sector was allowed (`allowed` true) or disallowed for dataset admission.
    event SectorSet(bytes32 indexed sectorHash, string sector, bool allowed);

    /// @notice A value is out of its permitted range.
    error InvalidParam(string name, uint256 value);
    /// @notice The zero address was given where an account is required.
    error ZeroAddress();

    /// @notice Sets the governance owner and the initial parameters, validators and sectors.
    /// @param governance The owner (the TimelockController).
    /// @param init Initial numeric parameters and treasury.
    /// @param validators Initially approved validators.
    /// @param sectors Initially allowed sectors.
    constructor(address governance, Init memory init, address[] memory validators, string[] memory sectors)
        Ownable(governance)
    {
        _setMinStake(init.minStake);
        _setSlashBps(init.slashBps);
        _setProtocolFeeBps(init.protocolFeeBps);
        _setChallengePeriodBounds(init.minChallengePeriod, init.maxChallengePeriod);
        _setTreasury(init.treasury);
        for (uint256 i = 0; i < validators.length; i++) {
            _setValidator(validators[i], true);
        }
        for (uint256 i = 0; i < sectors.length; i++) {
            _setSector(sectors[i], true);
        }
    }

    /// @notice Whether datasets may be admitted to `sector`.
    /// @param sector Sector name, e.g. "vision".
    /// @return True when governance allows the sector.
    function isSectorAllowed(string calldata sector) external view returns (bool) {
        return _sectorAllowed[keccak256(bytes(sector))];
    }

    /// @notice Whether datasets may be admitted to the sector with this name hash.
    /// @param sectorHash keccak256 of the sector name.
    /// @return True when governance allows the sector.
    function isSectorHashAllowed(bytes32 sectorHash) external view returns (bool) {
        return _sectorAllowed[sectorHash];
    }

    /// @notice Governance: sets the minimum provider stake (also the per-job stake lock).
    /// @param value New minimum stake in AGORA wei (> 0).
    function setMinStake(uint256 value) external onlyOwner {
        _setMinStake(value);
    }

    /// @notice Governance: sets the slash fraction in basis points (0..10000).
    /// @param value New slash fraction.
    function setSlashBps(uint16 value) external onlyOwner {
        _setSlashBps(value);
    }

    /// @notice Governance: sets the protocol fee in basis points (0..MAX_FEE_BPS).
    /// @param value New fee.
    function setProtocolFeeBps(uint16 value) external onlyOwner {
        _setProtocolFeeBps(value);
    }

    /// @notice Governance: sets the bounds jobs must respect when choosing a challenge period.
    /// @param minSeconds Shortest allowed period (> 0).
    /// @param maxSeconds Longest allowed period (>= minSeconds, <= 30 days).
    function setChallengePeriodBounds(uint64 minSeconds, uint64 maxSeconds) external onlyOwner {
        _setChallengePeriodBounds(minSeconds, maxSeconds);
    }

    /// @notice Governance: sets the treasury.
    /// @param value New treasury (non-zero).
    function setTreasury(address value) external onlyOwner {
        _setTreasury(value);
    }

    /// @notice Governance: approves or removes a validator.
    /// @param validator The validator account.
    /// @param approved True to approve, false to remove.
    function setValidator(address validator, bool approved) external onlyOwner {
        _setValidator(validator, approved);
    }

    /// @notice Governance: allows or disallows a sector for dataset admission.
    /// @param sector Sector name.
    /// @param allowed True to allow.
    function setSector(string calldata sector, bool allowed) external onlyOwner {
        _setSector(sector, allowed);
    }

    function _setMinStake(uint256 value) private {
        if (value == 0) revert InvalidParam("minStake", value);
        emit ParamChanged("minStake", minStake, value);
        minStake = value;
    }

    function _setSlashBps(uint16 value) private {
        if (value > BPS) revert InvalidParam("slashBps", value);
        emit ParamChanged("slashBps", slashBps, value);
        slashBps = value;
    }

    function _setProtocolFeeBps(uint16 value) private {
        if (value > MAX_FEE_BPS) revert InvalidParam("protocolFeeBps", value);
        emit ParamChanged("protocolFeeBps", protocolFeeBps, value);
        protocolFeeBps = value;
    }

    function _setChallengePeriodBounds(uint64 minSeconds, uint64 maxSeconds) private {
        if (minSeconds == 0) revert InvalidParam("minChallengePeriod", minSeconds);
        if (maxSeconds < minSeconds || maxSeconds > 30 days) revert InvalidParam("maxChallengePeriod", maxSeconds);
        emit ParamChanged("minChallengePeriod", minChallengePeriod, minSeconds);
        emit ParamChanged("maxChallengePeriod", maxChallengePeriod, maxSeconds);
        minChallengePeriod = minSeconds;
        maxChallengePeriod = maxSeconds;
    }

    function _setTreasury(address value) private {
        if (value == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, value);
        treasury = value;
    }

    function _setValidator(address validator, bool approved) private {
        if (validator == address(0)) revert ZeroAddress();
        isValidator[validator] = approved;
        emit ValidatorSet(validator, approved);
    }

    function _setSector(string memory sector, bool allowed) private {
        if (bytes(sector).length == 0) revert InvalidParam("sector", 0);
        bytes32 h = keccak256(bytes(sector));
        _sectorAllowed[h] = allowed;
        emit SectorSet(h, sector, allowed);
    }
}
