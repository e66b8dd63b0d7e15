// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {DataRegistry} from "./DataRegistry.sol";
import {ProtocolParams} from "./ProtocolParams.sol";

/// @title ComputeMarket
/// @notice Compute providers stake AGORA and publish offers; requesters post training jobs with escrow;
///         providers join (locking stake per job) and the job starts when K have joined. Escrow flows to the
///         TrainingLedger when the job closes (pro rata to committed rounds), the rest back to the requester.
///         Faults are slashed through an equivocation proof (two different signed round records for the same
///         job/round by one worker, checked on-chain) or a validator fraud report after its challenge window.
/// @dev Money: `escrow = pricePerRound * rounds * workers`; `fee = escrow * protocolFeeBps / 10000`. The
///      requester deposits escrow + fee at creation. Cancel (before start) or an unfilled job refunds both.
///      The fee goes to the treasury when the job starts. Closing (called by the ledger) pays
///      `escrow * roundsCommitted / rounds` to the ledger and refunds the remainder to the requester.
///      Round records are signed under EIP-712 domain "Agora ComputeMarket" v1 as
///      `RoundRecord(uint256 jobId,uint256 round,address worker,bytes32 pseudoGradientHash,bytes32 sampleRoot,uint256 lossBefore,uint256 lossAfter,uint64 samples)`.
contract ComputeMarket is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Lifecycle of a job.
    enum JobState {
        None,
        Open,
        Running,
        Completed,
        Expired,
        Cancelled,
        Unfilled
    }

    /// @notice Lifecycle of a fraud report.
    enum ReportState {
        None,
        Pending,
        Dismissed,
        Executed
    }

    /// @notice A provider's offer and stake.
    struct Provider {
        uint256 stake;
        uint256 locked;
        bytes32 hardwareHash;
        uint256 pricePerRound;
        bool active;
    }

    /// @notice What a requester asks for when creating a job.
    struct JobSpec {
        bytes32 modelSpecHash;
        uint256[] datasetIds;
        uint32 workers;
        uint32 innerSteps;
        uint32 rounds;
        uint256 pricePerRound;
        uint64 joinDeadline;
        uint64 completionDeadline;
        uint64 challengePeriod;
    }

    /// @notice A job as stored.
    struct Job {
        address requester;
        JobState state;
        uint32 workers;
        uint32 innerSteps;
        uint32 rounds;
        uint64 joinDeadline;
        uint64 completionDeadline;
        uint64 challengePeriod;
        uint64 startedAt;
        uint64 endedAt;
        bytes32 modelSpecHash;
        uint256 pricePerRound;
        uint256 escrow;
        uint256 fee;
        uint256 stakePerWorker;
    }

    /// @notice A provider's seat in a job.
    struct Seat {
        uint128 lockedStake;
        uint32 index;
        uint16 pendingReports;
        bool slashed;
        bool released;
    }

    /// @notice A signed round record (the worker's claim about its round); used in equivocation proofs.
    struct RoundRecord {
        uint256 jobId;
        uint256 round;
        address worker;
        bytes32 pseudoGradientHash;
        bytes32 sampleRoot;
        uint256 lossBefore;
        uint256 lossAfter;
        uint64 samples;
    }

    /// @notice A validator's fraud report.
    struct FraudReport {
        uint256 jobId;
        address provider;
        uint64 deadline;
        ReportState state;
        address validator;
        uint256 round;
        bytes32 evidenceHash;
    }

    /// @notice EIP-712 type hash of RoundRecord.
    bytes32 public constant ROUND_RECORD_TYPEHASH = keccak256(
        "RoundRecord(uint256 jobId,uint256 round,address worker,bytes32 pseudoGradientHash,bytes32 sampleRoot,uint256 lossBefore,uint256 lossAfter,uint64 samples)"
    );
    /// @notice Most workers a job may ask for (the ledger's signer bitmap is 256 bits).
    uint32 public constant MAX_WORKERS = 64;
    /// @notice Most datasets a job may reference.
    uint256 public constant MAX_DATASETS = 32;
    /// @notice Largest job spec document {publishJobSpec} takes (bytes).
    uint256 public constant MAX_SPEC_BYTES = 16384;

    /// @notice The AGORA token (stake and escrow).
    IERC20 public immutable token;
    /// @notice Governance parameters.
    ProtocolParams public immutable params;
    /// @notice Dataset registry (job dataset ids are checked against it).
    DataRegistry public immutable registry;
    /// @notice The TrainingLedger, bound once after deployment.
    address public ledger;
    address private immutable _binder;

    /// @notice Number of jobs; ids run 1..jobCount.
    uint256 public jobCount;
    /// @notice Number of fraud reports; ids run 1..reportCount.
    uint256 public reportCount;

    mapping(address provider => Provider) private _providers;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => address[]) private _participants;
    mapping(uint256 jobId => uint256[]) private _datasets;
    mapping(uint256 jobId => mapping(address provider => Seat)) private _seats;
    mapping(uint256 reportId => FraudReport) private _reports;

    /// @notice A provider registered an offer with stake.
    event ProviderRegistered(address indexed provider, bytes32 hardwareHash, uint256 pricePerRound, uint256 stake);
    /// @notice A provider changed its offer.
    event OfferUpdated(address indexed provider, bytes32 hardwareHash, uint256 pricePerRound);
    /// @notice A provider stopped offering (its stake stays until withdrawn).
    event ProviderDeregistered(address indexed provider);
    /// @notice Stake added.
    event StakeAdded(address indexed provider, uint256 amount, uint256 total);
    /// @notice Stake withdrawn.
    event StakeWithdrawn(address indexed provider, uint256 amount, uint256 total);
    /// @notice A job was created with its escrow.
    event JobCreated(
        uint256 indexed jobId,
        address indexed requester,
        bytes32 modelSpecHash,
        uint256[] datasetIds,
        uint32 workers,
        uint32 innerSteps,
        uint32 rounds,
        uint256 pricePerRound,
        uint256 escrow,
        uint256 fee
    );
    /// @notice A provider joined a job and locked stake.
    /// @notice A job spec document (canonical JSON) whose keccak256 is `specHash`, a job's modelSpecHash.
    event JobSpecPublished(bytes32 indexed specHash, address indexed publisher, bytes spec);

    event JobJoined(uint256 indexed jobId, address indexed provider, uint32 index, uint256 lockedStake);
    /// @notice K providers joined: the job runs; the fee went to the treasury.
    event JobStarted(uint256 indexed jobId, address[] participants);
    /// @notice The requester cancelled before start; everything refunded.
    event JobCancelled(uint256 indexed jobId, uint256 refund);
    /// @notice The join deadline passed without K providers; everything refunded.
    event JobUnfilled(uint256 indexed jobId, uint256 refund);
    /// @notice The job closed: `paid` went to the ledger, `refund` back to the requester.
    event JobClosed(uint256 indexed jobId, JobState state, uint32 roundsCommitted, uint256 paid, uint256 refund);
    /// @notice A provider's stake for a job was unlocked.
    event StakeReleased(uint256 indexed jobId, address indexed provider, uint256 amount);
    /// @notice A provider was slashed; `amount` went to `recipient`.
    event Slashed(uint256 indexed jobId, address indexed provider, uint256 amount, address recipient, bytes32 reason);
    /// @notice An equivocation (two different signed records for one round) was proven.
    event EquivocationProven(uint256 indexed jobId, address indexed provider, uint256 round, bytes32 recordA, bytes32 recordB);
    /// @notice A validator filed a fraud report.
    event FraudReported(
        uint256 indexed reportId, uint256 indexed jobId, address indexed provider, address validator, uint256 round, bytes32 evidenceHash, uint64 deadline
    );
    /// @notice Governance dismissed a fraud report during its challenge window.
    event FraudDismissed(uint256 indexed reportId);
    /// @notice The ledger was bound.
    event LedgerBound(address ledger);

    /// @notice Caller lacks the required role.
    error Unauthorized(address caller);
    /// @notice The provider is (or is not) registered.
    error ProviderState(address provider, bool active);
    /// @notice Free stake is below what the operation needs.
    error InsufficientStake(uint256 available, uint256 required);
    /// @notice A job parameter is invalid.
    error InvalidJob(string reason);
    /// @notice A dataset id is not registered.
    error UnknownDataset(uint256 datasetId);
    /// @notice No job has this id.
    error UnknownJob(uint256 jobId);
    /// @notice The job is in the wrong state for this operation.
    error WrongJobState(uint256 jobId, JobState state);
    /// @notice A deadline has passed or not yet been reached.
    error BadTiming(uint256 deadline, uint256 nowTs);
    /// @notice The provider already joined this job.
    error AlreadyJoined(uint256 jobId, address provider);
    /// @notice The provider's price is above the job's.
    error PriceTooHigh(uint256 offer, uint256 jobPrice);
    /// @notice The account has no seat in this job.
    error NotParticipant(uint256 jobId, address account);
    /// @notice The seat was already slashed or released.
    error SeatClosed(uint256 jobId, address provider);
    /// @notice Fraud reports are pending against this seat.
    error ReportsPending(uint256 jobId, address provider, uint16 pending);
    /// @notice The two records do not prove an equivocation.
    error NotEquivocation(string reason);
    /// @notice A signature does not recover to the worker.
    error BadSignature(address worker);
    /// @notice No pending report has this id.
    error BadReport(uint256 reportId, ReportState state);
    /// @notice The ledger was already bound.
    error AlreadyBound();
    /// @notice A zero amount or address.
    error Zero();

    modifier onlyGovernance() {
        if (msg.sender != params.owner()) revert Unauthorized(msg.sender);
        _;
    }

    /// @notice Creates the market; the deployer must call {bindLedger} once afterwards.
    /// @param agora The AGORA token.
    /// @param protocolParams Governance parameters.
    /// @param dataRegistry The dataset registry.
    constructor(IERC20 agora, ProtocolParams protocolParams, DataRegistry dataRegistry) EIP712("Agora ComputeMarket", "1") {
        token = agora;
        params = protocolParams;
        registry = dataRegistry;
        _binder = msg.sender;
    }

    /// @notice Binds the TrainingLedger (once, by the deployer).
    /// @param trainingLedger The ledger that commits rounds and closes jobs.
    function bindLedger(address trainingLedger) external {
        if (msg.sender != _binder) revert Unauthorized(msg.sender);
        if (ledger != address(0)) revert AlreadyBound();
        if (trainingLedger == address(0)) revert Zero();
        ledger = trainingLedger;
        emit LedgerBound(trainingLedger);
    }

    // ---------------------------------------------------------------- providers

    /// @notice Registers the caller's offer and pulls `stakeAmount` AGORA (total stake must reach the minimum).
    /// @param hardwareHash Hash of the provider's hardware descriptor.
    /// @param pricePerRound Price the provider asks per round (AGORA wei).
    /// @param stakeAmount AGORA to add to the provider's stake (approve first).
    function registerProvider(bytes32 hardwareHash, uint256 pricePerRound, uint256 stakeAmount) external nonReentrant {
        Provider storage p = _providers[msg.sender];
        if (p.active) revert ProviderState(msg.sender, true);
        uint256 minStake = params.minStake();
        if (p.stake + stakeAmount < minStake) revert InsufficientStake(p.stake + stakeAmount, minStake);
        p.stake += stakeAmount;
        p.hardwareHash = hardwareHash;
        p.pricePerRound = pricePerRound;
        p.active = true;
        emit ProviderRegistered(msg.sender, hardwareHash, pricePerRound, p.stake);
        if (stakeAmount > 0) token.safeTransferFrom(msg.sender, address(this), stakeAmount);
    }

    /// @notice Changes the caller's offer.
    /// @param hardwareHash New hardware descriptor hash.
    /// @param pricePerRound New price per round.
    function updateOffer(bytes32 hardwareHash, uint256 pricePerRound) external {
        Provider storage p = _providers[msg.sender];
        if (!p.active) revert ProviderState(msg.sender, false);
        p.hardwareHash = hardwareHash;
        p.pricePerRound = pricePerRound;
        emit OfferUpdated(msg.sender, hardwareHash, pricePerRound);
    }

    /// @notice Stops offering compute (existing job seats are unaffected); stake can then be fully withdrawn.
    function deregisterProvider() external {
        Provider storage p = _providers[msg.sender];
        if (!p.active) revert ProviderState(msg.sender, false);
        p.active = false;
        emit ProviderDeregistered(msg.sender);
    }

    /// @notice Adds stake.
    /// @param amount AGORA to pull from the caller (approve first).
    function addStake(uint256 amount) external nonReentrant {
        if (amount == 0) revert Zero();
        Provider storage p = _providers[msg.sender];
        p.stake += amount;
        emit StakeAdded(msg.sender, amount, p.stake);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraws unlocked stake; an active provider must keep at least the minimum stake.
    /// @param amount AGORA to withdraw.
    function withdrawStake(uint256 amount) external nonReentrant {
        if (amount == 0) revert Zero();
        Provider storage p = _providers[msg.sender];
        uint256 free = p.stake - p.locked;
        if (amount > free) revert InsufficientStake(free, amount);
        uint256 remaining = p.stake - amount;
        if (p.active) {
            uint256 minStake = params.minStake();
            if (remaining < minStake) revert InsufficientStake(remaining, minStake);
        }
        p.stake = remaining;
        emit StakeWithdrawn(msg.sender, amount, remaining);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice A provider's offer and stake.
    /// @param provider The provider.
    /// @return The provider record.
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    // ---------------------------------------------------------------- jobs

    /// @notice Creates a job and pulls `escrow + fee` from the caller (see {quote}).
    /// @param spec What to train, where, by whom, for how much.
    /// @return jobId The new job id (ids start at 1).
    function createJob(JobSpec calldata spec) external nonReentrant returns (uint256 jobId) {
        if (spec.workers == 0 || spec.workers > MAX_WORKERS) revert InvalidJob("workers");
        if (spec.rounds == 0) revert InvalidJob("rounds");
        if (spec.innerSteps == 0) revert InvalidJob("innerSteps");
        if (spec.pricePerRound == 0) revert InvalidJob("pricePerRound");
        if (spec.joinDeadline <= block.timestamp) revert InvalidJob("joinDeadline");
        if (spec.completionDeadline <= spec.joinDeadline) revert InvalidJob("completionDeadline");
        if (spec.challengePeriod < params.minChallengePeriod() || spec.challengePeriod > params.maxChallengePeriod()) {
            revert InvalidJob("challengePeriod");
        }
        if (spec.datasetIds.length > MAX_DATASETS) revert InvalidJob("datasetIds");
        for (uint256 i = 0; i < spec.datasetIds.length; i++) {
            if (!registry.exists(spec.datasetIds[i])) revert UnknownDataset(spec.datasetIds[i]);
        }
        (uint256 escrow, uint256 fee) = quote(spec.pricePerRound, spec.rounds, spec.workers);
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.requester = msg.sender;
        j.state = JobState.Open;
        j.workers = spec.workers;
        j.innerSteps = spec.innerSteps;
        j.rounds = spec.rounds;
        j.joinDeadline = spec.joinDeadline;
        j.completionDeadline = spec.completionDeadline;
        j.challengePeriod = spec.challengePeriod;
        j.modelSpecHash = spec.modelSpecHash;
        j.pricePerRound = spec.pricePerRound;
        j.escrow = escrow;
        j.fee = fee;
        j.stakePerWorker = params.minStake();
        _datasets[jobId] = spec.datasetIds;
        emit JobCreated(
            jobId, msg.sender, spec.modelSpecHash, spec.datasetIds, spec.workers, spec.innerSteps, spec.rounds, spec.pricePerRound, escrow, fee
        );
        token.safeTransferFrom(msg.sender, address(this), escrow + fee);
    }

    /// @notice Publishes a job spec document so that every node reads it from the chain: the event
    /// carries the bytes under their keccak256, computed here, so a job whose modelSpecHash is that
    /// hash names exactly this document (no node trusts the requester for it). Anyone may publish.
    /// @param spec The spec's canonical JSON (at most MAX_SPEC_BYTES).
    /// @return specHash keccak256(spec).
    function publishJobSpec(bytes calldata spec) external returns (bytes32 specHash) {
        if (spec.length == 0 || spec.length > MAX_SPEC_BYTES) revert InvalidJob("spec size");
        specHash = keccak256(spec);
        emit JobSpecPublished(specHash, msg.sender, spec);
    }

    /// @notice What a job costs: escrow (paid to the ledger for rewards) and the protocol fee on top.
    /// @param pricePerRound Price per worker per round.
    /// @param rounds Number of outer rounds.
    /// @param workers Number of workers K.
    /// @return escrow pricePerRound * rounds * workers.
    /// @return fee escrow * protocolFeeBps / 10000.
    function quote(uint256 pricePerRound, uint32 rounds, uint32 workers) public view returns (uint256 escrow, uint256 fee) {
        escrow = pricePerRound * rounds * workers;
        fee = (escrow * params.protocolFeeBps()) / 10_000;
    }

    /// @notice Joins an open job, locking `stakePerWorker` of the caller's stake; the K-th join starts it.
    /// @param jobId The job.
    function joinJob(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        if (j.state != JobState.Open) revert WrongJobState(jobId, j.state);
        if (block.timestamp > j.joinDeadline) revert BadTiming(j.joinDeadline, block.timestamp);
        Provider storage p = _providers[msg.sender];
        if (!p.active) revert ProviderState(msg.sender, false);
        if (p.pricePerRound > j.pricePerRound) revert PriceTooHigh(p.pricePerRound, j.pricePerRound);
        Seat storage seat = _seats[jobId][msg.sender];
        if (seat.index != 0) revert AlreadyJoined(jobId, msg.sender);
        uint256 lock = j.stakePerWorker;
        if (p.stake - p.locked < lock) revert InsufficientStake(p.stake - p.locked, lock);
        p.locked += lock;
        address[] storage parts = _participants[jobId];
        parts.push(msg.sender);
        seat.index = uint32(parts.length);
        seat.lockedStake = uint128(lock);
        emit JobJoined(jobId, msg.sender, seat.index, lock);
        if (parts.length == j.workers) {
            j.state = JobState.Running;
            j.startedAt = uint64(block.timestamp);
            emit JobStarted(jobId, parts);
            if (j.fee > 0) token.safeTransfer(params.treasury(), j.fee);
        }
    }

    /// @notice The requester cancels a job that has not started; escrow and fee are refunded in full.
    /// @param jobId The job.
    function cancelJob(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        if (msg.sender != j.requester) revert Unauthorized(msg.sender);
        if (j.state != JobState.Open) revert WrongJobState(jobId, j.state);
        j.state = JobState.Cancelled;
        j.endedAt = uint64(block.timestamp);
        uint256 refund = j.escrow + j.fee;
        emit JobCancelled(jobId, refund);
        token.safeTransfer(j.requester, refund);
    }

    /// @notice Anyone ends a job whose join deadline passed without K providers; the requester is refunded.
    /// @param jobId The job.
    function refundUnfilled(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        if (j.state != JobState.Open) revert WrongJobState(jobId, j.state);
        if (block.timestamp <= j.joinDeadline) revert BadTiming(j.joinDeadline, block.timestamp);
        j.state = JobState.Unfilled;
        j.endedAt = uint64(block.timestamp);
        uint256 refund = j.escrow + j.fee;
        emit JobUnfilled(jobId, refund);
        token.safeTransfer(j.requester, refund);
    }

    /// @notice Ledger only: closes a running job. Complete (all rounds committed) any time; otherwise only
    ///         after the completion deadline. Pays escrow pro rata to committed rounds to the ledger.
    /// @param jobId The job.
    /// @param roundsCommitted Rounds the ledger has committed.
    /// @return paid AGORA transferred to the ledger for reward distribution.
    function closeJob(uint256 jobId, uint32 roundsCommitted) external nonReentrant returns (uint256 paid) {
        if (msg.sender != ledger) revert Unauthorized(msg.sender);
        Job storage j = _job(jobId);
        if (j.state != JobState.Running) revert WrongJobState(jobId, j.state);
        if (roundsCommitted >= j.rounds) {
            roundsCommitted = j.rounds;
            j.state = JobState.Completed;
        } else {
            if (block.timestamp <= j.completionDeadline) revert BadTiming(j.completionDeadline, block.timestamp);
            j.state = JobState.Expired;
        }
        j.endedAt = uint64(block.timestamp);
        paid = (j.escrow * roundsCommitted) / j.rounds;
        uint256 refund = j.escrow - paid;
        emit JobClosed(jobId, j.state, roundsCommitted, paid, refund);
        if (paid > 0) token.safeTransfer(msg.sender, paid);
        if (refund > 0) token.safeTransfer(j.requester, refund);
    }

    /// @notice Unlocks a provider's stake for a job once the job is over and its challenge window has passed
    ///         (immediately for cancelled/unfilled jobs). Anyone may call it for the provider.
    /// @param jobId The job.
    /// @param provider The provider whose seat is released.
    function releaseStake(uint256 jobId, address provider) external {
        Job storage j = _job(jobId);
        Seat storage seat = _seats[jobId][provider];
        if (seat.index == 0) revert NotParticipant(jobId, provider);
        if (seat.released) revert SeatClosed(jobId, provider);
        if (seat.pendingReports > 0) revert ReportsPending(jobId, provider, seat.pendingReports);
        JobState st = j.state;
        if (st == JobState.Open || st == JobState.Running) revert WrongJobState(jobId, st);
        if (st == JobState.Completed || st == JobState.Expired) {
            uint256 until = uint256(j.endedAt) + j.challengePeriod;
            if (block.timestamp <= until) revert BadTiming(until, block.timestamp);
        }
        seat.released = true;
        uint256 amount = seat.lockedStake;
        seat.lockedStake = 0;
        _providers[provider].locked -= amount;
        emit StakeReleased(jobId, provider, amount);
    }

    /// @notice A job as stored.
    /// @param jobId The job.
    /// @return The job.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _job(jobId);
    }

    /// @notice Compact job view for the ledger.
    /// @param jobId The job.
    /// @return state Job state.
    /// @return workers K.
    /// @return rounds Outer rounds.
    /// @return completionDeadline Seconds timestamp after which an unfinished job may be closed.
    function jobCore(uint256 jobId)
        external
        view
        returns (JobState state, uint32 workers, uint32 rounds, uint64 completionDeadline)
    {
        Job storage j = _jobs[jobId];
        return (j.state, j.workers, j.rounds, j.completionDeadline);
    }

    /// @notice The providers that joined a job, in join order.
    /// @param jobId The job.
    /// @return The participants.
    function participantsOf(uint256 jobId) external view returns (address[] memory) {
        return _participants[jobId];
    }

    /// @notice 1-based seat index of `account` in the job (0 when not a participant).
    /// @param jobId The job.
    /// @param account The account.
    /// @return The seat index.
    function participantIndex(uint256 jobId, address account) external view returns (uint256) {
        return _seats[jobId][account].index;
    }

    /// @notice A provider's seat in a job.
    /// @param jobId The job.
    /// @param provider The provider.
    /// @return The seat.
    function seatOf(uint256 jobId, address provider) external view returns (Seat memory) {
        return _seats[jobId][provider];
    }

    /// @notice Dataset ids a job trains on.
    /// @param jobId The job.
    /// @return The dataset ids.
    function datasetsOf(uint256 jobId) external view returns (uint256[] memory) {
        return _datasets[jobId];
    }

    // ---------------------------------------------------------------- slashing

    /// @notice EIP-712 digest a worker signs for a round record.
    /// @param r The record.
    /// @return The digest.
    function roundRecordDigest(RoundRecord calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(_recordHash(r));
    }

    /// @notice Proves that a worker signed two different records for the same job and round, and slashes it
    ///         (slash fraction of its locked stake for the job goes to the requester). Anyone may submit.
    /// @param a First record.
    /// @param sigA Worker's signature over `a`.
    /// @param b Second record (same jobId, round, worker; different content).
    /// @param sigB Worker's signature over `b`.
    function proveEquivocation(RoundRecord calldata a, bytes calldata sigA, RoundRecord calldata b, bytes calldata sigB)
        external
        nonReentrant
    {
        if (a.jobId != b.jobId || a.round != b.round || a.worker != b.worker) revert NotEquivocation("different slot");
        bytes32 ha = _recordHash(a);
        bytes32 hb = _recordHash(b);
        if (ha == hb) revert NotEquivocation("same record");
        if (!SignatureChecker.isValidSignatureNowCalldata(a.worker, _hashTypedDataV4(ha), sigA)) revert BadSignature(a.worker);
        if (!SignatureChecker.isValidSignatureNowCalldata(a.worker, _hashTypedDataV4(hb), sigB)) revert BadSignature(a.worker);
        Job storage j = _job(a.jobId);
        if (a.round >= j.rounds) revert NotEquivocation("round out of range");
        _checkSlashable(a.jobId, j, a.worker);
        emit EquivocationProven(a.jobId, a.worker, a.round, ha, hb);
        _slash(a.jobId, j, a.worker, keccak256(abi.encode("equivocation", ha, hb)));
    }

    /// @notice An approved validator reports a provider's fault in a job round; after the job's challenge
    ///         period (during which governance may dismiss it) anyone can execute the slash.
    /// @param jobId The job.
    /// @param provider The accused provider.
    /// @param round The round concerned.
    /// @param evidenceHash Hash of the off-chain evidence.
    /// @return reportId The report id.
    function reportFraud(uint256 jobId, address provider, uint256 round, bytes32 evidenceHash)
        external
        returns (uint256 reportId)
    {
        if (!params.isValidator(msg.sender)) revert Unauthorized(msg.sender);
        Job storage j = _job(jobId);
        if (round >= j.rounds) revert InvalidJob("round");
        _checkSlashable(jobId, j, provider);
        Seat storage seat = _seats[jobId][provider];
        seat.pendingReports += 1;
        reportId = ++reportCount;
        uint64 deadline = uint64(block.timestamp) + j.challengePeriod;
        _reports[reportId] = FraudReport({
            jobId: jobId,
            provider: provider,
            deadline: deadline,
            state: ReportState.Pending,
            validator: msg.sender,
            round: round,
            evidenceHash: evidenceHash
        });
        emit FraudReported(reportId, jobId, provider, msg.sender, round, evidenceHash, deadline);
    }

    /// @notice Governance dismisses a pending fraud report before its deadline.
    /// @param reportId The report.
    function dismissFraud(uint256 reportId) external onlyGovernance {
        FraudReport storage r = _reports[reportId];
        if (r.state != ReportState.Pending) revert BadReport(reportId, r.state);
        if (block.timestamp > r.deadline) revert BadTiming(r.deadline, block.timestamp);
        r.state = ReportState.Dismissed;
        _seats[r.jobId][r.provider].pendingReports -= 1;
        emit FraudDismissed(reportId);
    }

    /// @notice Executes an undismissed fraud report after its challenge window: slashes the provider
    ///         (once per job; later reports for an already slashed seat just close).
    /// @param reportId The report.
    function executeFraudSlash(uint256 reportId) external nonReentrant {
        FraudReport storage r = _reports[reportId];
        if (r.state != ReportState.Pending) revert BadReport(reportId, r.state);
        if (block.timestamp <= r.deadline) revert BadTiming(r.deadline, block.timestamp);
        r.state = ReportState.Executed;
        Seat storage seat = _seats[r.jobId][r.provider];
        seat.pendingReports -= 1;
        if (!seat.slashed) _slash(r.jobId, _jobs[r.jobId], r.provider, r.evidenceHash);
    }

    /// @notice A fraud report.
    /// @param reportId The report.
    /// @return The report.
    function getReport(uint256 reportId) external view returns (FraudReport memory) {
        return _reports[reportId];
    }

    // ---------------------------------------------------------------- internals

    function _job(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.state == JobState.None) revert UnknownJob(jobId);
    }

    function _recordHash(RoundRecord calldata r) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ROUND_RECORD_TYPEHASH, r.jobId, r.round, r.worker, r.pseudoGradientHash, r.sampleRoot, r.lossBefore, r.lossAfter, r.samples
            )
        );
    }

    /// @dev A seat can be slashed while the job runs and, after it ends, until the challenge window closes.
    function _checkSlashable(uint256 jobId, Job storage j, address provider) private view {
        Seat storage seat = _seats[jobId][provider];
        if (seat.index == 0) revert NotParticipant(jobId, provider);
        if (seat.slashed || seat.released) revert SeatClosed(jobId, provider);
        JobState st = j.state;
        if (st == JobState.Completed || st == JobState.Expired) {
            uint256 until = uint256(j.endedAt) + j.challengePeriod;
            if (block.timestamp > until) revert BadTiming(until, block.timestamp);
        } else if (st != JobState.Running) {
            revert WrongJobState(jobId, st);
        }
    }

    function _slash(uint256 jobId, Job storage j, address provider, bytes32 reason) private {
        Seat storage seat = _seats[jobId][provider];
        seat.slashed = true;
        uint256 amount = (uint256(seat.lockedStake) * params.slashBps()) / 10_000;
        seat.lockedStake -= uint128(amount);
        Provider storage p = _providers[provider];
        p.locked -= amount;
        p.stake -= amount;
        emit Slashed(jobId, provider, amount, j.requester, reason);
        if (amount > 0) token.safeTransfer(j.requester, amount);
    }
}
